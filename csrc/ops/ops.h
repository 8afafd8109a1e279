#pragma once
// Every op the library offers, by family. Each family's .cpp holds the forward of each
// op next to its backward node.
#include "ops/attention.h"
#include "ops/conv.h"
#include "ops/batchnorm.h"
#include "ops/creation.h"
#include "ops/elementwise.h"
#include "ops/index.h"
#include "ops/linalg.h"
#include "ops/loss.h"
#include "ops/optim.h"
#include "ops/pool.h"
#include "ops/pad.h"
#include "ops/random.h"
#include "ops/reduce.h"
#include "ops/shape.h"
#include "ops/upsample.h"
