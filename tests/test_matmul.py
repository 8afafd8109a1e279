"""matmul and its family (dot, mv, mm, bmm, broadcast N-D), the fused linear, and the GEMM
kernel underneath: values vs numpy on every instruction set this CPU runs, edge tiles,
strided/transposed/broadcast operands, threads, empty and K=0 products, accumulate,
gradients vs finite differences and PyTorch, and errors."""
import numpy as np
import pytest

import tinygrad_cpp as tg
from helpers import check_grad, torch

_C = tg._C


@pytest.fixture
def threads():
    before = tg.get_num_threads()
    yield
    tg.set_num_threads(before)


def rand(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


def tol(dtype, k=1):
    # float32 sums of k products: error grows with k; compare against float64 numpy.
    return dict(rtol=1e-4, atol=1e-5 * max(1, k) ** 0.5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-11)


def check(a, b, dtype):
    """tg matmul of numpy arrays a, b (kept strided via from_numpy) vs numpy in float64."""
    a, b = a.astype(dtype, copy=False), b.astype(dtype, copy=False)
    out = tg.from_numpy(a) @ tg.from_numpy(b)
    expected = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert out.shape == expected.shape
    assert out.dtype == (tg.float32 if dtype == np.float32 else tg.float64)
    np.testing.assert_allclose(out.numpy(), expected, **tol(dtype, a.shape[-1]))
    return out


# ---- forward -------------------------------------------------------------------------------

DIM_CASES = [
    ((5,), (5,)),              # dot
    ((4, 5), (5,)),            # mv
    ((5,), (5, 3)),            # vector @ matrix
    ((4, 5), (5, 3)),          # mm
    ((2, 4, 5), (2, 5, 3)),    # bmm
    ((2, 4, 5), (5, 3)),       # batch @ matrix
    ((4, 5), (2, 5, 3)),       # matrix @ batch
    ((3, 1, 4, 5), (2, 5, 3)), # broadcast batch dims
    ((1, 2, 4, 5), (3, 1, 5, 3)),
    ((5,), (2, 5, 3)),         # vector @ batch
    ((2, 3, 4, 5), (5,)),      # batch @ vector
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sa,sb", DIM_CASES)
def test_forward_dim_cases(isa, sa, sb, dtype):
    rng = np.random.default_rng(0)
    check(rand(rng, sa), rand(rng, sb), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_edge_tiles_all_sizes(isa, dtype):
    # Sizes around every micro-tile (4..16 rows, 4..32 columns) and cache block boundary,
    # with B row-major (small in-place kernel) and column-major (packed path).
    rng = np.random.default_rng(1)
    sizes = [1, 2, 7, 17, 33, 65, 129]
    for m in sizes:
        for n in sizes:
            k = [1, 7, 33, 130, 300][(m + n) % 5]
            a, b = rand(rng, (m, k)), rand(rng, (k, n))
            check(a, b, dtype)
            check(a, b.T.copy().T, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_long_k_crosses_cache_blocks(isa, dtype):
    rng = np.random.default_rng(2)
    for m, k, n in [(37, 1100, 45), (140, 600, 70), (20, 3000, 200)]:
        a, b = rand(rng, (m, k)), rand(rng, (k, n))
        check(a, b, dtype)
        check(a, b.T.copy().T, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_packed_panels_every_k_tail(isa, dtype):
    # Products big enough for the packed path, with every remainder of K modulo the
    # packing's 8-wide transposes inside the last cache block (row panels of A are
    # stored in whole 8-lane blocks that overlap the next row's slots).
    rng = np.random.default_rng(4)
    for k in (256 + 1, 256 + 7, 256 + 8, 300, 517):
        a, b = rand(rng, (133, k)), rand(rng, (k, 260))
        check(a, b, dtype)
        check(a.T.copy().T, b, dtype)
        check(a, b.T.copy().T, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transposed_sliced_and_broadcast_operands(isa, dtype):
    rng = np.random.default_rng(3)
    a, b = rand(rng, (70, 50)), rand(rng, (40, 50))
    check(a, b.T, dtype)                                   # B transposed
    check(a.T.copy().T, b.T, dtype)                         # both strided
    check(rand(rng, (50, 70)).T, rand(rng, (50, 40)), dtype)  # A transposed
    check(a[::2, 1::3], rand(rng, (50, 60))[1::3, ::2], dtype)  # sliced with steps
    big = rand(rng, (9, 80, 90))
    check(big[::2, 3:40, 5:70:2], rand(rng, (33, 20)), dtype)  # strided batch, odd sizes
    # expanded (stride 0) operands are read in place
    row = np.broadcast_to(rand(rng, (1, 50)), (30, 50))
    check(row, rand(rng, (50, 20)), dtype)
    check(np.broadcast_to(rand(rng, (30, 50)), (4, 30, 50)), rand(rng, (4, 50, 20)), dtype)
    col = np.broadcast_to(rand(rng, (50, 1)), (50, 20))
    check(rand(rng, (30, 50)), col, dtype)


def test_tg_views_as_operands():
    rng = np.random.default_rng(4)
    a, b, c = rand(rng, (6, 4, 5)), rand(rng, (6, 3, 5)), rand(rng, (5, 4, 3))
    ta, tb, tc = tg.tensor(a), tg.tensor(b), tg.tensor(c)
    np.testing.assert_allclose((ta @ tb.transpose(1, 2)).numpy(), a @ b.transpose(0, 2, 1), rtol=1e-12)
    np.testing.assert_allclose((ta.permute(1, 0, 2) @ tc.permute(1, 0, 2)).numpy(),
                               a.transpose(1, 0, 2) @ c.transpose(1, 0, 2), rtol=1e-12)
    v = rand(rng, (1, 5))
    np.testing.assert_allclose((tg.tensor(v).expand(4, 5) @ tb.transpose(1, 2)).numpy(),
                               np.broadcast_to(v, (4, 5)) @ b.transpose(0, 2, 1), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_against_numpy(dtype):
    rng = np.random.default_rng(5)
    for m, k, n in [(300, 500, 200), (64, 784, 128), (784, 64, 128), (64, 128, 784), (64, 64, 10), (513, 257, 129)]:
        check(rand(rng, (m, k)), rand(rng, (k, n)), dtype)
        check(rand(rng, (k, m)).T, rand(rng, (n, k)).T, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threads_match_one_thread(isa, threads, dtype):
    rng = np.random.default_rng(6)
    cases = [((257, 300), (300, 190)), ((64, 784), (784, 128)), ((9, 40, 33), (9, 33, 50)),
             ((3, 200, 64), (64, 300)), ((1000, 7), (7, 600)), ((32, 100, 60), (32, 60, 5)),
             ((40, 1, 30), (40, 30, 70)), ((5000, 3), (3, 1))]
    for sa, sb in cases:
        bn = rand(rng, sb, dtype)
        # B row-major, and column-major (packed on every path)
        for a, b in [(tg.tensor(rand(rng, sa, dtype)), tg.tensor(bn)),
                     (tg.tensor(rand(rng, sa, dtype)), tg.from_numpy(np.swapaxes(np.swapaxes(bn, -1, -2).copy(), -1, -2)))]:
            tg.set_num_threads(1)
            one = (a @ b).numpy()
            for n in (2, 3, 4):
                tg.set_num_threads(n)
                np.testing.assert_array_equal((a @ b).numpy(), one)
            np.testing.assert_allclose(one, a.numpy().astype(np.float64) @ b.numpy().astype(np.float64),
                                       **tol(dtype, sa[-1]))


def test_threads_backward_broadcast_reduction(threads):
    # the gradient of a broadcast operand sums products over the batch
    rng = np.random.default_rng(17)
    a, b, g = rand(rng, (6, 70, 40)), rand(rng, (40, 90)), rand(rng, (6, 70, 90))
    grads = []
    for n in (1, 2):
        tg.set_num_threads(n)
        ta, tb = tg.tensor(a, requires_grad=True), tg.tensor(b.T.copy().T, requires_grad=True)
        (ta.permute(1, 0, 2) @ tb).backward(tg.tensor(g.transpose(1, 0, 2)))
        grads.append((ta.grad.numpy(), tb.grad.numpy()))
    np.testing.assert_allclose(grads[0][1], np.einsum("bmk,bmn->kn", a, g), rtol=1e-10)
    np.testing.assert_allclose(grads[0][0], g @ b.T, rtol=1e-10)
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    np.testing.assert_array_equal(grads[0][1], grads[1][1])


def test_empty_and_k_zero(isa):
    for dtype in (tg.float32, tg.float64, tg.int64):
        z = tg.zeros(3, 0, dtype=dtype) @ tg.zeros(0, 4, dtype=dtype)
        assert z.shape == (3, 4) and z.dtype == dtype
        np.testing.assert_array_equal(z.numpy(), np.zeros((3, 4)))
        assert (tg.zeros(0, 3, dtype=dtype) @ tg.ones(3, 4, dtype=dtype)).shape == (0, 4)
        assert (tg.ones(2, 3, dtype=dtype) @ tg.ones(3, 0, dtype=dtype)).shape == (2, 0)
        assert (tg.ones(0, 2, 3, dtype=dtype) @ tg.ones(3, 4, dtype=dtype)).shape == (0, 2, 4)
        d = tg.zeros(0, dtype=dtype) @ tg.zeros(0, dtype=dtype)
        assert d.shape == () and d.item() == 0
        np.testing.assert_array_equal((tg.zeros(2, 5, 0, dtype=dtype) @ tg.zeros(2, 0, 3, dtype=dtype)).numpy(),
                                      np.zeros((2, 5, 3)))


def test_int64_matmul():
    rng = np.random.default_rng(7)
    for sa, sb in DIM_CASES + [((33, 17), (17, 29))]:
        a, b = rng.integers(-9, 9, sa), rng.integers(-9, 9, sb)
        out = tg.tensor(a) @ tg.tensor(b)
        assert out.dtype == tg.int64
        np.testing.assert_array_equal(out.numpy(), np.matmul(a, b))
    # wraps on overflow like PyTorch and numpy
    a, b = np.array([[2**62, 3], [1, 1]]), np.array([[4, 1], [5, 1]])
    np.testing.assert_array_equal((tg.tensor(a) @ tg.tensor(b)).numpy(), a @ b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_accumulate_and_strided_output(isa, dtype):
    rng = np.random.default_rng(8)
    for m, k, n in [(3, 4, 5), (70, 300, 45), (129, 65, 33), (64, 64, 10), (1, 50, 40), (40, 50, 1), (5, 0, 6)]:
        a, b = rand(rng, (m, k), dtype), rand(rng, (k, n), dtype)
        c0 = rand(rng, (m, n), dtype)
        expected = a.astype(np.float64) @ b.astype(np.float64)
        c = c0.copy()
        _C._matmul_into(tg.from_numpy(c), tg.from_numpy(a), tg.from_numpy(b), accumulate=True)
        np.testing.assert_allclose(c, c0 + expected, **tol(dtype, k))
        c = c0.copy()
        _C._matmul_into(tg.from_numpy(c), tg.from_numpy(a), tg.from_numpy(b), accumulate=False)
        np.testing.assert_allclose(c, expected, **tol(dtype, k))
        # B column-major: the packed path
        c = c0.copy()
        _C._matmul_into(tg.from_numpy(c), tg.from_numpy(a), tg.from_numpy(b.T.copy().T), accumulate=True)
        np.testing.assert_allclose(c, c0 + expected, **tol(dtype, k))
        # output written through a transposed view (column stride != 1)
        ct = c0.T.copy()
        _C._matmul_into(tg.from_numpy(ct.T), tg.from_numpy(a), tg.from_numpy(b), accumulate=True)
        np.testing.assert_allclose(ct.T, c0 + expected, **tol(dtype, k))


def test_module_functions_and_methods():
    rng = np.random.default_rng(9)
    a, b, v = rand(rng, (3, 4)), rand(rng, (4, 5)), rand(rng, 4)
    ta, tb, tv = tg.tensor(a), tg.tensor(b), tg.tensor(v)
    np.testing.assert_allclose(tg.matmul(ta, tb).numpy(), a @ b, rtol=1e-12)
    np.testing.assert_allclose(ta.matmul(tb).numpy(), a @ b, rtol=1e-12)
    np.testing.assert_allclose(tg.mm(ta, tb).numpy(), a @ b, rtol=1e-12)
    np.testing.assert_allclose(ta.mm(tb).numpy(), a @ b, rtol=1e-12)
    np.testing.assert_allclose(tg.mv(ta, tv).numpy(), a @ v, rtol=1e-12)
    np.testing.assert_allclose(ta.mv(tv).numpy(), a @ v, rtol=1e-12)
    np.testing.assert_allclose(tg.dot(tv, tv).numpy(), v @ v, rtol=1e-12)
    np.testing.assert_allclose(tv.dot(tv).numpy(), v @ v, rtol=1e-12)
    x, y = rand(rng, (2, 3, 4)), rand(rng, (2, 4, 5))
    np.testing.assert_allclose(tg.bmm(tg.tensor(x), tg.tensor(y)).numpy(), x @ y, rtol=1e-12)
    np.testing.assert_allclose(tg.tensor(x).bmm(tg.tensor(y)).numpy(), x @ y, rtol=1e-12)


def test_linear_forward(isa):
    rng = np.random.default_rng(10)
    w, b = rand(rng, (7, 5)), rand(rng, 7)
    for xs in [(5,), (4, 5), (3, 4, 5), (2, 3, 4, 5), (0, 5)]:
        x = rand(rng, xs)
        out = _C._linear(tg.tensor(x), tg.tensor(w), tg.tensor(b))
        np.testing.assert_allclose(out.numpy(), x @ w.T + b, rtol=1e-12, atol=1e-12)
        out = _C._linear(tg.tensor(x), tg.tensor(w), None)
        np.testing.assert_allclose(out.numpy(), x @ w.T, rtol=1e-12, atol=1e-12)
    # non-foldable input (permuted) and float32 MLP shape
    x = rand(rng, (4, 6, 5)).transpose(1, 0, 2)
    np.testing.assert_allclose(_C._linear(tg.from_numpy(x), tg.tensor(w), tg.tensor(b)).numpy(),
                               x @ w.T + b, rtol=1e-12)
    x32, w32, b32 = rand(rng, (64, 784), np.float32), rand(rng, (128, 784), np.float32), rand(rng, 128, np.float32)
    np.testing.assert_allclose(_C._linear(tg.tensor(x32), tg.tensor(w32), tg.tensor(b32)).numpy(),
                               x32.astype(np.float64) @ w32.T.astype(np.float64) + b32, rtol=1e-4, atol=1e-3)


# ---- backward ------------------------------------------------------------------------------

@pytest.mark.parametrize("sa,sb", DIM_CASES + [((2, 1, 3, 4), (1, 3, 4, 2)), ((1, 3, 4), (2, 1, 4, 2))])
def test_backward_dim_cases(sa, sb):
    rng = np.random.default_rng(11)
    check_grad(lambda a, b: a @ b, rand(rng, sa), rand(rng, sb))


def test_backward_odd_sizes_and_transposed():
    rng = np.random.default_rng(12)
    check_grad(lambda a, b: a @ b, rand(rng, (7, 9)), rand(rng, (9, 3)))
    check_grad(lambda a, b: a.transpose(0, 1) @ b.transpose(0, 1), rand(rng, (5, 3)), rand(rng, (4, 5)))
    check_grad(lambda a, b: tg.matmul(a.permute(1, 0, 2), b) if isinstance(a, tg.Tensor)
               else torch.matmul(a.permute(1, 0, 2), b), rand(rng, (3, 2, 4)), rand(rng, (4, 2)))
    # an operand used twice
    check_grad(lambda a: a @ a, rand(rng, (4, 4)))
    check_grad(lambda a: a @ a.transpose(0, 1), rand(rng, (3, 5)))


def test_backward_strict_forms():
    rng = np.random.default_rng(13)
    check_grad(lambda a, b: a.mm(b), rand(rng, (3, 4)), rand(rng, (4, 2)))
    check_grad(lambda a, b: a.bmm(b), rand(rng, (2, 3, 4)), rand(rng, (2, 4, 2)))
    check_grad(lambda a, b: a.mv(b), rand(rng, (3, 4)), rand(rng, 4))
    check_grad(lambda a, b: a.dot(b), rand(rng, 4), rand(rng, 4))


def _linear(x, w, b=None):
    if isinstance(x, tg.Tensor):
        return _C._linear(x, w, b)
    return torch.nn.functional.linear(x, w, b)


@pytest.mark.parametrize("xs", [(5,), (4, 5), (3, 2, 5), (2, 1, 2, 5)])
def test_linear_backward(xs):
    rng = np.random.default_rng(14)
    check_grad(lambda x, w, b: _linear(x, w, b), rand(rng, xs), rand(rng, (3, 5)), rand(rng, 3))
    check_grad(lambda x, w: _linear(x, w), rand(rng, xs), rand(rng, (3, 5)))


def test_linear_backward_permuted_input_and_partial_grads():
    rng = np.random.default_rng(15)
    check_grad(lambda x, w, b: _linear(x.permute(1, 0, 2), w, b), rand(rng, (2, 3, 4)), rand(rng, (3, 4)),
               rand(rng, 3))
    x = tg.tensor(rand(rng, (6, 4)))
    w = tg.tensor(rand(rng, (3, 4)), requires_grad=True)
    b = tg.tensor(rand(rng, 3), requires_grad=True)
    out = _C._linear(x, w, b)
    assert out.grad_fn.name() == "AddmmBackward0"
    out.sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(w.grad.numpy(), np.ones((6, 3)).T @ x.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), np.full(3, 6.0))
    assert _C._linear(x, w, None).grad_fn.name() == "MmBackward0"


def test_backward_float32_large_matches_float64():
    rng = np.random.default_rng(16)
    a, b, g = rand(rng, (64, 130)), rand(rng, (130, 70)), rand(rng, (64, 70))
    ta = tg.tensor(a.astype(np.float32), requires_grad=True)
    tb = tg.tensor(b.astype(np.float32), requires_grad=True)
    (ta @ tb).backward(tg.tensor(g.astype(np.float32)))
    np.testing.assert_allclose(ta.grad.numpy(), g @ b.T, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tb.grad.numpy(), a.T @ g, rtol=1e-4, atol=1e-4)
    assert ta.grad.dtype == tg.float32


def test_grad_fn_names():
    r = lambda *s: tg.randn(*s, requires_grad=True) if hasattr(tg, "randn") else tg.ones(*s, requires_grad=True)
    assert (r(3) @ r(3)).grad_fn.name() == "DotBackward0"
    assert (r(2, 3) @ r(3)).grad_fn.name() == "MvBackward0"
    assert (r(2, 3) @ r(3, 4)).grad_fn.name() == "MmBackward0"
    assert (r(5, 2, 3) @ r(5, 3, 4)).grad_fn.name() == "BmmBackward0"
    assert tg.mm(r(2, 3), r(3, 4)).grad_fn.name() == "MmBackward0"
    assert (tg.ones(2, 3) @ tg.ones(3, 4)).grad_fn is None


def test_backward_through_freed_graph_raises():
    a = tg.ones(2, 3, requires_grad=True)
    out = (a @ tg.ones(3, 2)).sum()
    out.backward()
    with pytest.raises(RuntimeError):
        out.backward()


# ---- errors --------------------------------------------------------------------------------

def test_errors():
    with pytest.raises(RuntimeError, match=r"\[2, 3\].*\[4, 2\]"):
        tg.ones(2, 3) @ tg.ones(4, 2)
    with pytest.raises(RuntimeError, match=r"\[2, 3, 4\].*\[3, 5, 2\]"):
        tg.ones(2, 3, 4) @ tg.ones(3, 5, 2)
    with pytest.raises(RuntimeError, match="size of tensor"):
        tg.ones(2, 3, 4) @ tg.ones(3, 4, 2)
    with pytest.raises(RuntimeError, match="float32 != float64"):
        tg.ones(2, 3) @ tg.ones(3, 2, dtype=tg.float64)
    with pytest.raises(RuntimeError, match="bool"):
        tg.ones(2, 3, dtype=tg.bool) @ tg.ones(3, 2, dtype=tg.bool)
    with pytest.raises(RuntimeError, match="at least 1D"):
        tg.ones(()) @ tg.ones(3)
    with pytest.raises(RuntimeError, match="matrix"):
        tg.mm(tg.ones(2, 3, 4), tg.ones(4, 2))
    with pytest.raises(RuntimeError, match="3D"):
        tg.bmm(tg.ones(3, 4), tg.ones(4, 2))
    with pytest.raises(RuntimeError, match=r"\[2, 4\] but got: \[3, 4\]"):
        tg.bmm(tg.ones(2, 3, 4), tg.ones(3, 4, 2))
    with pytest.raises(RuntimeError, match="1D tensors expected"):
        tg.dot(tg.ones(2, 3), tg.ones(3))
    with pytest.raises(RuntimeError, match="inconsistent tensor size"):
        tg.dot(tg.ones(3), tg.ones(4))
    with pytest.raises(RuntimeError, match="size mismatch"):
        tg.mv(tg.ones(2, 3), tg.ones(4))
    with pytest.raises(RuntimeError, match=r"\[4, 5\].*\[3, 4\]"):
        _C._linear(tg.ones(4, 5), tg.ones(3, 4), None)
    with pytest.raises(RuntimeError, match="bias"):
        _C._linear(tg.ones(4, 5), tg.ones(3, 5), tg.ones(4))
    with pytest.raises(RuntimeError, match="same dtype"):
        _C._linear(tg.ones(4, 5), tg.ones(3, 5, dtype=tg.float64), None)
    with pytest.raises(RuntimeError, match="out has shape"):
        _C._matmul_into(tg.ones(3, 3), tg.ones(2, 3), tg.ones(3, 2))
    with pytest.raises(ValueError):
        _C._set_gemm_isa("sse9")
    with pytest.raises(TypeError):
        tg.ones(2, 2) @ "x"
    # a failed product leaves the graph usable
    a = tg.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError):
        a @ tg.ones(2, 3)
    (a @ tg.ones(3, 2)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.full((2, 3), 2.0))


def test_fma_peak_is_measured():
    peak = _C._fma_peak_gflops(0.05)
    assert peak >= 0 and (peak > 1 or _C._gemm_isa() == "portable")
