"""The threaded blocked GEMM whose threads share one packed copy of B (csrc/kernels/gemm.cpp,
run_shared): on every instruction set this CPU runs (AVX2 forced included), float32 and
float64, 2 and 3 threads give bitwise the 1-thread result and match numpy, over odd sizes
(every row edge of the micro-tile, column counts that cut the shared chunks and the
micro-panels short, K across several cache blocks, N across two column blocks),
transposed and strided operands, accumulation and a strided output; and a thread never
waits on a chunk another thread has claimed (a parked helper, simulated with
_gemm_stall_shared_b): it packs that chunk itself, with the same result."""
import numpy as np
import pytest

import tinygrad_cpp as tg

_C = tg._C


def _supported_isas():
    best = _C._gemm_isa()
    out = []
    for isa in ("portable", "avx2", "avx512"):
        try:
            _C._set_gemm_isa(isa)
            out.append(isa)
        except ValueError:
            pass
    _C._set_gemm_isa(best)
    return out


ISAS = _supported_isas()
MR = {"portable": 4, "avx2": 6, "avx512": 8}


@pytest.fixture(params=ISAS)
def isa(request):
    best = _C._gemm_isa()
    _C._set_gemm_isa(request.param)
    yield request.param
    _C._set_gemm_isa(best)


@pytest.fixture(autouse=True)
def restore():
    before = tg.get_num_threads()
    yield
    tg.set_num_threads(before)
    _C._gemm_stall_shared_b(0)


def tol(dtype, k):
    return dict(rtol=1e-4, atol=1e-5 * max(1, k) ** 0.5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-11)


def operands(rng, m, k, n, dtype, layout):
    """A (m x k) and B (k x n) as numpy views: row-major, transposed (column-major) or strided."""
    def make(r, c, how):
        if how == "row":
            return rng.standard_normal((r, c)).astype(dtype)
        if how == "col":
            return rng.standard_normal((c, r)).astype(dtype).T
        return rng.standard_normal((2 * r, 3 * c)).astype(dtype)[::2, ::3]  # both strides > 1
    return make(m, k, layout[0]), make(k, n, layout[1])


def run(a, b, threads):
    tg.set_num_threads(threads)
    return (tg.from_numpy(a) @ tg.from_numpy(b)).numpy()


def shared_products():
    return _C._gemm_shared_stats()[0]


def check_threads(a, b, dtype, expect_shared=True):
    one = run(a, b, 1)
    np.testing.assert_allclose(one, a.astype(np.float64) @ b.astype(np.float64), **tol(dtype, a.shape[1]))
    for n in (2, 3):
        before = shared_products()
        np.testing.assert_array_equal(run(a, b, n), one)
        if expect_shared and n == 2:  # 3 threads may want more row panels than these have
            assert shared_products() > before, (a.shape, b.shape, n)
    return one


SHAPES = [
    (257, 300, 190),   # odd everything; N cuts a chunk and a micro-panel short
    (513, 257, 129),   # K one past a cache block
    (220, 700, 170),   # K across three cache blocks
    (200, 60, 4200),   # N across two column blocks (4096)
    (200, 128, 1000),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", [("row", "row"), ("col", "row"), ("row", "col"), ("col", "col"),
                                    ("strided", "strided")])
def test_shared_b_matches_one_thread_and_numpy(isa, dtype, layout):
    rng = np.random.default_rng(1)
    for m, k, n in SHAPES:
        a, b = operands(rng, m, k, n, dtype, layout)
        check_threads(a, b, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_row_edge(isa, dtype):
    # M = q * MR + r for every r: the last row panel of the last task short
    rng = np.random.default_rng(2)
    k, n = 300, 200
    for m in range(48 * MR[isa], 49 * MR[isa] + 1):
        a = rng.standard_normal((k, m)).astype(dtype).T  # transposed A: the blocked path
        b = rng.standard_normal((k, n)).astype(dtype)
        check_threads(a, b, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_column_edge(isa, dtype):
    # N across one chunk boundary of the shared copy, every remainder of a micro-panel
    rng = np.random.default_rng(3)
    m, k = 200, 280
    chunk = 128 if dtype == np.float32 else 64
    for n in list(range(chunk - 9, chunk + 10, 3)) + [2 * chunk + 1, 5]:
        a = rng.standard_normal((k, m)).astype(dtype).T
        b = rng.standard_normal((k, n)).astype(dtype)
        check_threads(a, b, dtype, expect_shared=n > 16)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_accumulate_and_strided_output(isa, dtype):
    rng = np.random.default_rng(4)
    for m, k, n in [(257, 300, 190), (220, 700, 170)]:
        a, b = operands(rng, m, k, n, dtype, ("row", "col"))
        c0 = rng.standard_normal((m, n)).astype(dtype)
        expected = c0 + a.astype(np.float64) @ b.astype(np.float64)
        outs = []
        for threads in (1, 2):
            tg.set_num_threads(threads)
            c = c0.copy()
            _C._matmul_into(tg.from_numpy(c), tg.from_numpy(a), tg.from_numpy(b), accumulate=True)
            ct = c0.T.copy()  # written through a transposed view: column stride != 1
            _C._matmul_into(tg.from_numpy(ct.T), tg.from_numpy(a), tg.from_numpy(b), accumulate=True)
            np.testing.assert_allclose(c, expected, **tol(dtype, k))
            np.testing.assert_allclose(ct.T, expected, **tol(dtype, k))
            outs.append((c, ct))
        np.testing.assert_array_equal(outs[0][0], outs[1][0])
        np.testing.assert_array_equal(outs[0][1], outs[1][1])


@pytest.mark.parametrize("every", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_stalled_chunk_is_packed_not_waited_for(isa, dtype, every):
    # Chunks claimed by a packer that never finishes: the threads pack their own copies,
    # finish (no wait on the claim), and give the same bits.
    rng = np.random.default_rng(5)
    for m, k, n in [(257, 300, 190), (250, 700, 400)]:
        a, b = operands(rng, m, k, n, dtype, ("row", "row"))
        one = run(a, b, 1)
        _C._gemm_stall_shared_b(every)
        for threads in (2,):
            own = _C._gemm_shared_stats()[2]
            np.testing.assert_array_equal(run(a, b, threads), one)
            assert _C._gemm_shared_stats()[2] > own
        _C._gemm_stall_shared_b(0)


def test_few_rows_fall_back_to_a_grid(isa):
    # too few row panels for two tasks of ~2/3 of an A block: the grid path, same bits
    rng = np.random.default_rng(7)
    a = rng.standard_normal((300, 40)).astype(np.float32).T
    b = rng.standard_normal((300, 2000)).astype(np.float32)
    before = shared_products()
    check_threads(a, b, np.float32, expect_shared=False)
    assert shared_products() == before


def test_random_shapes(isa):
    rng = np.random.default_rng(6)
    for _ in range(12):
        m, k, n = (int(x) for x in rng.integers(20, 400, size=3))
        layout = tuple(rng.choice(["row", "col", "strided"], size=2))
        dtype = np.float32 if rng.random() < 0.5 else np.float64
        a, b = operands(rng, m, k, n, dtype, layout)
        check_threads(a, b, dtype, expect_shared=False)


def test_stats_and_stall_arguments():
    p, s, o = _C._gemm_shared_stats()
    assert min(p, s, o) >= 0
    _C._gemm_stall_shared_b(0)
    with pytest.raises(TypeError):
        _C._gemm_stall_shared_b("1")
