"""Custom autograd Functions (tg.autograd.Function), anomaly mode and
tg.autograd.functional (vjp, jacobian), against PyTorch and finite differences."""
import gc
import threading
import warnings

import numpy as np
import pytest

import tinygrad_cpp as tg

torch = pytest.importorskip("torch")


def pair(a, requires_grad=True, dtype=np.float64):
    a = np.asarray(a, dtype=dtype)
    return (tg.tensor(a.copy(), requires_grad=requires_grad),
            torch.tensor(a.copy(), requires_grad=requires_grad))


def close(t, ref, atol=1e-6):
    np.testing.assert_allclose(np.asarray(t.detach().numpy()), ref.detach().numpy(), atol=atol, rtol=1e-6)


def make_classes(lib):
    """The same Functions written against either library."""

    class Exp(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            y, = ctx.saved_tensors
            return g * y

    class MulAdd(lib.autograd.Function):  # several outputs, a non-tensor input
        @staticmethod
        def forward(ctx, x, k, y):
            ctx.k = k
            ctx.save_for_backward(x, y)
            return x * y * k, x + y

        @staticmethod
        def backward(ctx, g1, g2):
            x, y = ctx.saved_tensors
            return g1 * y * ctx.k + g2, None, g1 * x * ctx.k + g2

    class SortWithIndices(lib.autograd.Function):  # a non-differentiable (integer) output
        @staticmethod
        def forward(ctx, x):
            s, i = lib.sort(x)
            ctx.mark_non_differentiable(i)
            ctx.save_for_backward(i)
            return s, i

        @staticmethod
        def backward(ctx, g, gi):
            i, = ctx.saved_tensors
            ctx.gi_was_none = gi is None
            out = lib.zeros_like(g)
            return out.scatter_add(0, i, g)

    class Double_(lib.autograd.Function):  # in place, marked dirty
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class TwoOut(lib.autograd.Function):  # only one output used: None grads when asked
        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            ctx.seen = (g1 is None, g2 is None)
            r = 0
            if g1 is not None:
                r = r + g1 * 2
            if g2 is not None:
                r = r + g2 * 3
            return r, None

    class Scale(lib.autograd.Function):  # the newer style: setup_context
        @staticmethod
        def forward(x, k=3.0):
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    return dict(Exp=Exp, MulAdd=MulAdd, SortWithIndices=SortWithIndices, Double_=Double_, TwoOut=TwoOut,
                Scale=Scale)


TG, TH = make_classes(tg), make_classes(torch)


def test_exp_with_saved_output_matches_torch():
    x, xt = pair(np.random.default_rng(0).standard_normal((3, 4)))
    y, yt = TG["Exp"].apply(x), TH["Exp"].apply(xt)
    close(y, yt)
    assert type(y.grad_fn).__name__ == type(yt.grad_fn).__name__ == "ExpBackward"
    assert y.grad_fn.name() == yt.grad_fn.name() == "ExpBackward"
    assert y.grad_fn is y.grad_fn
    assert y.requires_grad and not y.is_leaf
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    close(x.grad, xt.grad)
    assert repr(y).endswith("grad_fn=<ExpBackward>)")


def test_grad_fn_in_graph_and_next_functions():
    x, _ = pair([1.0, 2.0])
    y = TG["Exp"].apply(x) * 2
    fn = y.grad_fn.next_functions[0][0]
    assert type(fn).__name__ == "ExpBackward"
    nf = fn.next_functions
    assert len(nf) == 1 and nf[0][0].name() == "AccumulateGrad"
    assert fn.needs_input_grad == (True,)


def test_several_outputs_and_non_tensor_input():
    x, xt = pair([1.0, -2.0, 3.0])
    y, yt = pair([0.5, 4.0, -1.0])
    a, b = TG["MulAdd"].apply(x, 2.5, y)
    at, bt = TH["MulAdd"].apply(xt, 2.5, yt)
    assert a.grad_fn is b.grad_fn
    close(a, at)
    close(b, bt)
    (a.sum() * 2 + (b * b).sum()).backward()
    (at.sum() * 2 + (bt * bt).sum()).backward()
    close(x.grad, xt.grad)
    close(y.grad, yt.grad)
    a, b = TG["MulAdd"].apply(x, 2.5, y)
    assert a.grad_fn.needs_input_grad == (True, False, True)


def test_one_output_unused_gets_zeros():
    x, xt = pair([1.0, 2.0])
    a, _ = TG["MulAdd"].apply(x, 1.0, x.detach())
    at, _ = TH["MulAdd"].apply(xt, 1.0, xt.detach())
    a.sum().backward()
    at.sum().backward()
    close(x.grad, xt.grad)


def test_non_differentiable_output():
    x, xt = pair([3.0, 1.0, 2.0])
    s, i = TG["SortWithIndices"].apply(x)
    st, it = TH["SortWithIndices"].apply(xt)
    assert not i.requires_grad and i.grad_fn is None
    assert not it.requires_grad
    np.testing.assert_array_equal(i.numpy(), it.numpy())
    (s * tg.tensor([1.0, 2.0, 3.0], dtype=tg.float64)).sum().backward()
    (st * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
    close(x.grad, xt.grad)
    assert s.grad_fn.gi_was_none is False  # a zeros tensor, as PyTorch's


def test_mark_non_differentiable_float_output():
    class F(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            ctx.mark_non_differentiable(y)
            return y

        @staticmethod
        def backward(ctx, g):
            return g

    y = F.apply(tg.ones(2, requires_grad=True))
    assert not y.requires_grad and y.grad_fn is None


def test_mark_dirty_in_place():
    x, xt = pair([1.0, 2.0])
    z, zt = x * 1, xt * 1
    w, wt = TG["Double_"].apply(z), TH["Double_"].apply(zt)
    assert w is z and wt is zt
    assert type(z.grad_fn).__name__ == "Double_Backward"
    close(w, wt)
    (w * 2).sum().backward()
    (wt * 2).sum().backward()
    close(x.grad, xt.grad)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad has been used in an in-place"):
        TG["Double_"].apply(x)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad has been used in an in-place"):
        TH["Double_"].apply(xt)


def test_dirty_not_returned_raises():
    for lib in (tg, torch):
        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.mul_(2)
                ctx.mark_dirty(x)
                return x * 1

            @staticmethod
            def backward(ctx, g):
                return g

        with pytest.raises(RuntimeError, match="marked as dirty during the forward method were not returned"):
            F.apply(lib.ones(2, requires_grad=True) * 1)


@pytest.mark.parametrize("materialize", [True, False])
def test_set_materialize_grads(materialize):
    x, xt = pair([1.0, 2.0])
    a, _ = TG["TwoOut"].apply(x, materialize)
    at, _ = TH["TwoOut"].apply(xt, materialize)
    a.sum().backward()
    at.sum().backward()
    assert a.grad_fn.seen == at.grad_fn.seen == (False, not materialize)
    close(x.grad, xt.grad)


def test_setup_context_style_and_defaults():
    x, xt = pair([1.0, 2.0])
    y, yt = TG["Scale"].apply(x), TH["Scale"].apply(xt)
    close(y, yt)
    y.sum().backward()
    yt.sum().backward()
    close(x.grad, xt.grad)
    y = TG["Scale"].apply(x, k=5.0)
    assert y.grad_fn.k == 5.0


def test_forward_runs_under_no_grad_and_outputs_require_grad_only_if_inputs_do():
    seen = []

    class F(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            seen.append(tg.is_grad_enabled())
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    y = F.apply(tg.ones(2))
    assert not y.requires_grad and y.grad_fn is None
    y = F.apply(tg.ones(2, requires_grad=True))
    assert y.requires_grad
    with tg.no_grad():
        y = F.apply(tg.ones(2, requires_grad=True))
    assert not y.requires_grad
    assert seen == [False, False, False]


def test_input_returned_as_is_becomes_a_new_output():
    class Id(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = tg.ones(2, requires_grad=True)
    y = Id.apply(x)
    assert y is not x and type(y.grad_fn).__name__ == "IdBackward" and x.is_leaf
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_saved_tensor_modified_in_place_raises():
    x, xt = pair([1.0, 2.0])
    for lib, xx in ((tg, x), (torch, xt)):
        y = make_classes(lib)["Exp"].apply(xx)
        y.mul_(2)  # y is saved (as an output) by Exp
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_saved_input_modified_in_place_raises_and_names_version():
    class S(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 2

    x = tg.ones(3, requires_grad=True)
    z = x * 1
    y = S.apply(z)
    z.add_(1)
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0 instead"):
        y.sum().backward()


def test_saved_tensors_freed_after_backward():
    x, xt = pair([1.0])
    y, yt = TG["Exp"].apply(x), TH["Exp"].apply(xt)
    y.sum().backward()
    yt.sum().backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        yt.grad_fn.saved_tensors
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.grad_fn.saved_tensors
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.sum().backward()
    y = TG["Exp"].apply(x)
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.exp([1.0]))


def _errors(make):
    out = []
    for lib in (tg, torch):
        with pytest.raises(Exception) as e:
            make(lib)
        out.append((type(e.value), str(e.value)))
    return out


@pytest.mark.parametrize("case", ["count", "shape", "non_tensor_position", "type"])
def test_bad_backward_errors_match_torch(case):
    def make(lib):
        class Bad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x * y

            @staticmethod
            def backward(ctx, g):
                if case == "count":
                    return g
                if case == "shape":
                    return lib.ones(5, dtype=lib.float64), None
                if case == "non_tensor_position":
                    return g, g
                return 3, None

        x = lib.ones(3, dtype=lib.float64, requires_grad=True)
        y = x * 1 if case != "non_tensor_position" else 2.0
        Bad.apply(x, y).sum().backward()

    (tt, tm), (rt, rm) = _errors(make)
    assert tt is rt
    assert tm == rm


def test_wrong_count_message():
    class Foo(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    a = tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"^function FooBackward returned an incorrect number of gradients "
                                           r"\(expected 2, got 1\)$"):
        Foo.apply(a, a).sum().backward()


def test_extra_none_grads_are_fine_and_broadcast_grads_are_summed():
    class F(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return g * tg.ones(4, 3, dtype=tg.float64), None, None

    x = tg.ones(3, dtype=tg.float64, requires_grad=True)
    F.apply(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 4.0, 4.0])


def test_grad_cast_to_input_dtype():
    class F(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g.double()

    x = tg.ones(2, requires_grad=True)
    F.apply(x).sum().backward()
    assert x.grad.dtype == tg.float32


def test_exception_in_backward_propagates_unchanged():
    class Boom(Exception):
        pass

    class F(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            raise Boom("boom in backward")

    x = tg.ones(2, requires_grad=True)
    with pytest.raises(Boom, match="^boom in backward$"):
        F.apply(x).sum().backward()
    with pytest.raises(Boom):
        tg.autograd.grad(F.apply(x).sum(), x)


def test_missing_backward_and_instantiation():
    class NoB(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

    with pytest.raises(NotImplementedError, match="You must implement either the backward or vjp"):
        NoB.apply(tg.ones(2, requires_grad=True)).sum().backward()
    with pytest.warns(DeprecationWarning, match="should not be instantiated"):
        f = NoB()
    with pytest.raises(RuntimeError, match="Legacy autograd function with non-static forward"):
        f(tg.ones(1))


def test_autograd_grad_and_hooks_through_function():
    x = tg.tensor([0.5, 1.5], dtype=tg.float64, requires_grad=True)
    y = TG["Exp"].apply(x)
    log = []
    y.grad_fn.register_prehook(lambda go: log.append("pre"))
    y.grad_fn.register_hook(lambda gi, go: log.append("post"))
    y.register_hook(lambda g: log.append("tensor"))
    g, = tg.autograd.grad(y.sum(), x)
    np.testing.assert_allclose(g.numpy(), np.exp([0.5, 1.5]))
    assert log == ["tensor", "pre", "post"]
    assert x.grad is None


def test_gradcheck_custom_functions_float64():
    rng = np.random.default_rng(1)
    x = tg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    y = tg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    assert tg.autograd.gradcheck(lambda a: TG["Exp"].apply(a), (x,))
    assert tg.autograd.gradcheck(lambda a, b: TG["MulAdd"].apply(a, 1.5, b), (x, y))
    assert tg.autograd.gradcheck(lambda a: TG["SortWithIndices"].apply(a)[0], (x.reshape(6).detach().requires_grad_(),))

    class WrongGrad(tg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * a

        @staticmethod
        def backward(ctx, g):
            return g  # should be 2 * a * g

    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        tg.autograd.gradcheck(lambda a: WrongGrad.apply(a), (x,))


def test_ctx_freed_with_graph():
    import weakref

    class F(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    y = F.apply(tg.ones(2, requires_grad=True))
    ref = weakref.ref(y.grad_fn)
    del y
    gc.collect()
    assert ref() is None


def test_backward_from_other_threads():
    errors = []

    def work():
        try:
            for _ in range(20):
                x = tg.ones(4, dtype=tg.float64, requires_grad=True)
                TG["Exp"].apply(x).sum().backward()
                np.testing.assert_allclose(x.grad.numpy(), np.e)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# ---- anomaly mode -------------------------------------------------------------------------------


def test_anomaly_nan_names_the_op_and_forward_stack():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with tg.autograd.detect_anomaly():
            assert tg.is_anomaly_enabled() and tg.autograd.is_anomaly_enabled()
            y = x * float("nan")  # the line the warning must show
            with pytest.raises(RuntimeError) as e:
                y.sum().backward()
    assert not tg.is_anomaly_enabled()
    assert str(e.value) == "Function 'MulBackward0' returned nan values in its 0th output."
    msgs = [str(m.message) for m in w]
    assert msgs[0].startswith("Anomaly Detection has been enabled.")
    err = [m for m in msgs if m.startswith("Error detected in MulBackward0. Traceback of forward call")]
    assert len(err) == 1
    assert 'y = x * float("nan")  # the line the warning must show' in err[0]
    assert "test_anomaly_nan_names_the_op_and_forward_stack" in err[0]


def test_anomaly_matches_torch_message():
    msgs = []
    for lib in (tg, torch):
        x = lib.tensor([0.0, 1.0], requires_grad=True)
        with lib.autograd.set_detect_anomaly(True), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError) as e:
                (x * float("nan")).div(2).sum().backward()
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


def test_anomaly_off_no_check_and_check_nan_false():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    (x * float("nan")).sum().backward()  # off: no error
    assert np.isnan(x.grad.numpy()).all()
    with tg.autograd.set_detect_anomaly(True, check_nan=False):
        assert not tg.is_anomaly_check_nan_enabled()
        (x * float("nan")).sum().backward()
    assert tg.is_anomaly_check_nan_enabled() and not tg.is_anomaly_enabled()


def test_anomaly_warns_for_errors_in_python_backward():
    class F(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            raise ValueError("boom")

    x = tg.ones(2, requires_grad=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with tg.autograd.set_detect_anomaly(True):
            y = F.apply(x)
            with pytest.raises(ValueError, match="^boom$"):
                y.sum().backward()
    assert any(str(m.message).startswith("Error detected in FBackward. Traceback of forward call") for m in w)


def test_anomaly_enabled_only_during_backward_has_no_forward_info():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    y = (x * float("nan")).sum()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        tg.autograd.set_detect_anomaly(True)
        try:
            with pytest.raises(RuntimeError, match="returned nan values"):
                y.backward()
        finally:
            tg.autograd.set_detect_anomaly(False)
    assert any("Error detected in MulBackward0. No forward pass information available." in str(m.message)
               for m in w)


def test_detect_anomaly_as_decorator():
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        @tg.autograd.detect_anomaly()
        def f():
            return tg.is_anomaly_enabled()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert f()
    assert not tg.is_anomaly_enabled()


# ---- autograd.functional ------------------------------------------------------------------------


def _both(fn_tg, fn_th, arrays, tuple_inputs):
    ins_tg = tuple(tg.tensor(a) for a in arrays)
    ins_th = tuple(torch.tensor(a) for a in arrays)
    if not tuple_inputs:
        ins_tg, ins_th = ins_tg[0], ins_th[0]
    return (tg.autograd.functional.jacobian(fn_tg, ins_tg),
            torch.autograd.functional.jacobian(fn_th, ins_th))


def _assert_same_structure(a, b):
    if isinstance(b, tuple):
        assert isinstance(a, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same_structure(x, y)
    else:
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", ["t_t", "tuple_t", "t_tuple", "tuple_tuple", "unused_input", "scalar_out"])
def test_jacobian_matches_torch(kind):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(3)
    if kind == "t_t":
        r = _both(lambda x: x.exp() * 2, lambda x: x.exp() * 2, [a], False)
    elif kind == "tuple_t":
        r = _both(lambda x, y: x * y, lambda x, y: x * y, [a, b], True)
    elif kind == "t_tuple":
        r = _both(lambda x: (x.sum(1), x * x), lambda x: (x.sum(1), x * x), [a], False)
    elif kind == "tuple_tuple":
        r = _both(lambda x, y: (x @ y, y.tanh()), lambda x, y: (x @ y, y.tanh()), [a, b], True)
    elif kind == "unused_input":
        r = _both(lambda x, y: x * 2, lambda x, y: x * 2, [a, b], True)
    else:
        r = _both(lambda x: (x * x).sum(), lambda x: (x * x).sum(), [a], False)
    _assert_same_structure(*r)


def test_jacobian_of_custom_function():
    a = np.array([0.1, -0.2, 0.3])
    j = tg.autograd.functional.jacobian(lambda x: TG["Exp"].apply(x), tg.tensor(a))
    np.testing.assert_allclose(j.numpy(), np.diag(np.exp(a)))


def test_jacobian_options_and_errors():
    x = tg.tensor([1.0, 2.0], dtype=tg.float64)
    with pytest.raises(NotImplementedError, match="create_graph=True"):
        tg.autograd.functional.jacobian(lambda v: v * 2, x, create_graph=True, strategy="forward-mode")
    with pytest.raises(RuntimeError, match="independent of input 1"):
        tg.autograd.functional.jacobian(lambda u, v: u * 2, (x, x), strict=True)
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        tg.autograd.functional.jacobian(lambda v: v, [x, 3])
    j = tg.autograd.functional.jacobian(lambda v: v * 2, x, vectorize=True)
    np.testing.assert_allclose(j.numpy(), 2 * np.eye(2))
    with pytest.raises(TypeError):
        torch.autograd.functional.jacobian(lambda v: v, [torch.ones(2), 3])


def test_vjp_matches_torch():
    rng = np.random.default_rng(4)
    a, b, v = rng.standard_normal((2, 3)), rng.standard_normal(3), rng.standard_normal(2)
    out, g = tg.autograd.functional.vjp(lambda x, y: x @ y, (tg.tensor(a), tg.tensor(b)), tg.tensor(v))
    out_t, g_t = torch.autograd.functional.vjp(lambda x, y: x @ y, (torch.tensor(a), torch.tensor(b)),
                                               torch.tensor(v))
    _assert_same_structure(out, out_t)
    _assert_same_structure(g, g_t)
    assert not out.requires_grad
    out, g = tg.autograd.functional.vjp(lambda x: (x * x).sum(), tg.tensor(b))
    out_t, g_t = torch.autograd.functional.vjp(lambda x: (x * x).sum(), torch.tensor(b))
    _assert_same_structure((out, g), (out_t, g_t))
    with pytest.raises(RuntimeError, match="The vector v can only be None"):
        tg.autograd.functional.vjp(lambda x: x * 2, tg.tensor(b))
    with pytest.raises(RuntimeError, match="The vector v can only be None"):
        torch.autograd.functional.vjp(lambda x: x * 2, torch.tensor(b))
    with pytest.raises(RuntimeError, match="Entry 0 in v has invalid size"):
        tg.autograd.functional.vjp(lambda x: x * 2, tg.tensor(b), tg.ones(2, dtype=tg.float64))
