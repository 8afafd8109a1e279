#pragma once
#include <mutex>

#include "core/tensor.h"

namespace tg {

// A seedable stream of random numbers: a seed and how many numbers were drawn.
struct Generator {
  uint64_t seed = 67280421310721ull;
  uint64_t offset = 0;
  std::mutex mu;
  void manual_seed(uint64_t s);
  // Reserves n numbers and returns the counter to start from.
  uint64_t take(uint64_t n);
};
Generator& default_generator();

// Fill in place (no autograd; for init functions under no_grad).
void uniform_(const Tensor& t, double from, double to, Generator& g);
void normal_(const Tensor& t, double mean, double std, Generator& g);

Tensor rand(const Shape& shape, DType dtype, Generator& g);
Tensor randn(const Shape& shape, DType dtype, Generator& g);
Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype, Generator& g);
Tensor randperm(int64_t n, DType dtype, Generator& g);
// 0/1 draws with probability p (a float tensor of probabilities in [0, 1]).
Tensor bernoulli(const Tensor& p, Generator& g);
// Zeroes elements with probability p and scales the rest by 1/(1-p) when training.
Tensor dropout(const Tensor& x, double p, bool train, Generator& g);
// Channel dropout of x (N, C, ...): zeroes whole (n, c) slices with probability p and scales
// the rest by 1/(1-p) when training; x itself when not training or p == 0.
Tensor feature_dropout(const Tensor& x, double p, bool train, Generator& g);
void dropout_(const Tensor& x, double p, bool train, Generator& g);  // x *= mask, recorded

}  // namespace tg
