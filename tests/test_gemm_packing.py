"""Packing of the blocked GEMM (csrc/kernels/gemm_simd.h) on every instruction set this CPU
runs (AVX2 forced included), float32 and float64, 1 and 2 threads, against numpy in float64
and 1 thread against 2 bitwise: the strip packer of operands whose panel elements are
contiguous (B row-major, A column-major, also as column slices of a wider matrix: a row
stride that is not the width), over every remainder of the micro-panel width, every
remainder of its 8-row strips in K and K across cache blocks; and the transposing packer
of row-major A (the next panel prefetched) over every remainder of the panel height."""
import numpy as np
import pytest

import tinygrad_cpp as tg


@pytest.fixture(autouse=True)
def restore_threads():
    before = tg.get_num_threads()
    yield
    tg.set_num_threads(before)


def tol(dtype, k):
    return dict(rtol=1e-4, atol=1e-5 * max(1, k) ** 0.5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-11)


def col_major(rng, r, c, dtype, pad=0):
    """An r x c view with unit row stride (column-major); pad > 0: the rows of a taller matrix."""
    return rng.standard_normal((c, r + pad)).astype(dtype).T[pad // 2:pad // 2 + r]


def row_major(rng, r, c, dtype, pad=0):
    """An r x c view with unit column stride; pad > 0: columns of a wider matrix (row stride > c)."""
    return rng.standard_normal((r, c + pad)).astype(dtype)[:, pad // 2:pad // 2 + c]


def check(a, b, dtype, threads=(1, 2)):
    # A with unit row stride and more than 16 KiB: never the small (unpacked) path
    outs = []
    for n in threads:
        tg.set_num_threads(n)
        outs.append((tg.from_numpy(a) @ tg.from_numpy(b)).numpy())
    np.testing.assert_allclose(outs[0], a.astype(np.float64) @ b.astype(np.float64), **tol(dtype, a.shape[1]))
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pad", [0, 7])
def test_strip_packer_every_panel_width_remainder(isa, dtype, pad):
    rng = np.random.default_rng(1)
    m, k = 128, 83  # 83 = 10 strips of 8 rows + 3
    for n in range(97, 97 + 33):  # every remainder mod 8, 16 and 32 columns
        check(col_major(rng, m, k, dtype, pad), row_major(rng, k, n, dtype, pad), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_strip_packer_every_strip_remainder_and_cache_blocks(isa, dtype):
    rng = np.random.default_rng(2)
    m, n = 100, 70
    for k in list(range(249, 266)) + [513, 777]:  # around one cache block (256), and several
        check(col_major(rng, m, k, dtype, 5), row_major(rng, k, n, dtype, 3), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_strip_packer_every_panel_height_remainder_of_a(isa, dtype):
    # A column-major: its row panels are strip-packed; every remainder of the panel height
    rng = np.random.default_rng(3)
    k, n = 150, 90
    for m in range(64, 64 + 9):
        check(col_major(rng, m, k, dtype), row_major(rng, k, n, dtype), dtype)
        check(col_major(rng, m, k, dtype, 4), col_major(rng, k, n, dtype, 6), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transposing_packer_with_prefetch(isa, dtype):
    # Row-major A through the blocked path (a product too big for the small path): every
    # remainder of the panel height, so the prefetched "next panel" is short or absent.
    rng = np.random.default_rng(4)
    k, n = 300, 160
    for m in range(200, 209):
        check(row_major(rng, m, k, dtype, 3), row_major(rng, k, n, dtype), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_square_products(isa, dtype):
    rng = np.random.default_rng(5)
    for nn in (255, 256, 257, 384):
        check(row_major(rng, nn, nn, dtype), row_major(rng, nn, nn, dtype), dtype)
        check(col_major(rng, nn, nn, dtype), row_major(rng, nn, nn, dtype), dtype)
