import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import pytest  # noqa: E402

import tinygrad_cpp as tg  # noqa: E402


def _vec_isas():
    best, out = tg._C._vec_isa(), []
    for isa in ("portable", "avx2", "avx512"):
        try:
            tg._C._set_vec_isa(isa)
            out.append(isa)
        except ValueError:
            pass
    tg._C._set_vec_isa(best)
    return out


@pytest.fixture(params=_vec_isas())
def vec_isa(request):
    """Runs a test once per float32 SIMD build this CPU can run (portable, AVX2, AVX-512)."""
    best = tg._C._vec_isa()
    tg._C._set_vec_isa(request.param)
    yield request.param
    tg._C._set_vec_isa(best)
