import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import pytest  # noqa: E402

import tinygrad_cpp as tg  # noqa: E402


def _isas(get, set_):
    """The instruction sets (portable, AVX2, AVX-512) a kernel family can run on this CPU."""
    best, out = get(), []
    for isa in ("portable", "avx2", "avx512"):
        try:
            set_(isa)
            out.append(isa)
        except ValueError:
            pass
    set_(best)
    return out


def _forcing(get, set_, isa):
    best = get()
    set_(isa)
    try:
        yield isa
    finally:
        set_(best)


@pytest.fixture(params=_isas(tg._C._vec_isa, tg._C._set_vec_isa))
def vec_isa(request):
    """Runs a test once per float32 SIMD build this CPU can run (portable, AVX2, AVX-512)."""
    yield from _forcing(tg._C._vec_isa, tg._C._set_vec_isa, request.param)


@pytest.fixture(params=_isas(tg._C._gemm_isa, tg._C._set_gemm_isa))
def isa(request):
    """Runs a test once per GEMM micro-kernel this CPU can run (portable, AVX2, AVX-512)."""
    yield from _forcing(tg._C._gemm_isa, tg._C._set_gemm_isa, request.param)
