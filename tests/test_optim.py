"""Optimizers and gradient clipping: hand-derived updates, torch.optim, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lstmfast.training.optim import SGD, Adam, AdamW, clip_grad_norm


def params_and_grads(seed: int = 0, steps: int = 5):
    rng = np.random.default_rng(seed)
    params = {"w": rng.standard_normal((3, 4)), "b": rng.standard_normal(3)}
    grads = [{name: rng.standard_normal(p.shape) for name, p in params.items()} for _ in range(steps)]
    return params, grads


# --------------------------------------------------------------------------- hand-derived


def test_sgd_plain_step():
    p = {"w": np.array([1.0, -2.0])}
    SGD(lr=0.1).step(p, {"w": np.array([0.5, 4.0])})
    np.testing.assert_array_equal(p["w"], [1.0 - 0.05, -2.0 - 0.4])


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_two_steps(nesterov):
    lr, mu, g1, g2 = 0.1, 0.9, 2.0, -1.0
    p = {"w": np.array([1.0])}
    opt = SGD(lr, momentum=mu, nesterov=nesterov)
    opt.step(p, {"w": np.array([g1])})
    opt.step(p, {"w": np.array([g2])})
    v1 = g1  # the buffer starts at the first gradient
    v2 = mu * v1 + g2
    expected = 1.0 - lr * (g1 + mu * v1) - lr * (g2 + mu * v2) if nesterov else 1.0 - lr * v1 - lr * v2
    assert p["w"][0] == pytest.approx(expected, rel=1e-15)


def test_adam_two_steps():
    lr, (b1, b2), eps, g1, g2 = 0.01, (0.9, 0.999), 1e-8, 3.0, -1.0
    p = {"w": np.array([0.5])}
    opt = Adam(lr)
    opt.step(p, {"w": np.array([g1])})
    # First step: m̂ = g, v̂ = g², so the step is lr·g/(|g| + eps) ≈ lr·sign(g).
    assert p["w"][0] == pytest.approx(0.5 - lr * g1 / (abs(g1) + eps), rel=1e-15)
    opt.step(p, {"w": np.array([g2])})
    m = b1 * (1 - b1) * g1 + (1 - b1) * g2
    v = b2 * (1 - b2) * g1**2 + (1 - b2) * g2**2
    m_hat, v_hat = m / (1 - b1**2), v / (1 - b2**2)
    expected = 0.5 - lr * g1 / (abs(g1) + eps) - lr * m_hat / (math.sqrt(v_hat) + eps)
    assert p["w"][0] == pytest.approx(expected, rel=1e-14)
    assert opt.state["w"]["step"] == 2


def test_updates_are_in_place_and_missing_grads_are_skipped():
    params, grads = params_and_grads()
    w, b = params["w"], params["b"]
    b_before = b.copy()
    Adam(0.1).step(params, {"w": grads[0]["w"], "b": None})
    assert params["w"] is w and params["b"] is b
    np.testing.assert_array_equal(b, b_before)
    SGD(0.1).step(params, {"w": grads[0]["w"]})
    np.testing.assert_array_equal(b, b_before)


def test_float32_parameters_stay_float32():
    p = {"w": np.ones(3, np.float32)}
    opt = Adam(0.1)
    opt.step(p, {"w": np.ones(3, np.float64)})
    assert p["w"].dtype == np.float32 and opt.state["w"]["exp_avg"].dtype == np.float32


# --------------------------------------------------------------------------- against torch.optim


@pytest.mark.parametrize(
    "make",
    [
        lambda torch, ps: (SGD(0.1), torch.optim.SGD(ps, lr=0.1)),
        lambda torch, ps: (SGD(0.05, momentum=0.9), torch.optim.SGD(ps, lr=0.05, momentum=0.9)),
        lambda torch, ps: (
            SGD(0.05, momentum=0.5, nesterov=True),
            torch.optim.SGD(ps, lr=0.05, momentum=0.5, nesterov=True),
        ),
        lambda torch, ps: (Adam(0.01), torch.optim.Adam(ps, lr=0.01)),
        lambda torch, ps: (
            Adam(0.02, betas=(0.8, 0.99), eps=1e-6),
            torch.optim.Adam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-6),
        ),
    ],
    ids=["sgd", "momentum", "nesterov", "adam", "adam-betas"],
)
def test_matches_torch_optim(make):
    torch = pytest.importorskip("torch")
    params, grads = params_and_grads(steps=6)
    tparams = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    ours, theirs = make(torch, list(tparams.values()))
    for g in grads:
        ours.step(params, g)
        for k, t in tparams.items():
            t.grad = torch.tensor(g[k])
        theirs.step()
    for k in params:
        np.testing.assert_allclose(params[k], tparams[k].detach().numpy(), rtol=1e-12, atol=1e-14)


def test_clip_matches_torch():
    torch = pytest.importorskip("torch")
    _, grads = params_and_grads(steps=1)
    g = grads[0]
    tensors = [torch.zeros(v.shape, dtype=torch.float64, requires_grad=True) for v in g.values()]
    for t, v in zip(tensors, g.values()):
        t.grad = torch.tensor(v.copy())
    expected = torch.nn.utils.clip_grad_norm_(tensors, 1.5).item()
    assert clip_grad_norm(g, 1.5) == pytest.approx(expected, rel=1e-14)
    for t, v in zip(tensors, g.values()):
        np.testing.assert_allclose(v, t.grad.numpy(), rtol=1e-14)


# --------------------------------------------------------------------------- clipping


def test_clip_grad_norm_scales_all_together():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]], np.float32), "none": None}
    total = clip_grad_norm(grads, 1.0)
    assert total == 5.0  # sqrt(3² + 4²), over all arrays
    np.testing.assert_allclose(grads["a"], [3.0 / (5 + 1e-6), 0.0], rtol=1e-15)
    assert grads["b"].dtype == np.float32
    np.testing.assert_allclose(grads["b"], [[4.0 / (5 + 1e-6)]], rtol=1e-7)
    # below the limit: untouched
    small = {"a": np.array([0.3, 0.4])}
    assert clip_grad_norm(small, 1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(small["a"], [0.3, 0.4])


def test_clip_grad_norm_leaves_non_finite_gradients_alone():
    grads = {"a": np.array([np.inf, 1.0]), "b": np.array([2.0])}
    assert clip_grad_norm(grads, 1.0) == math.inf
    np.testing.assert_array_equal(grads["b"], [2.0])
    assert math.isnan(clip_grad_norm({"a": np.array([np.nan])}, 1.0))


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "make,exc,message",
    [
        (lambda: SGD(0.0), ValueError, r"lr: expected a finite number > 0, got 0.0"),
        (lambda: SGD(-1), ValueError, "lr: expected a finite number > 0"),
        (lambda: SGD("0.1"), TypeError, "lr: expected a number"),
        (lambda: SGD(0.1, momentum=1.0), ValueError, r"momentum: expected a number in \[0, 1\)"),
        (lambda: SGD(0.1, nesterov=True), ValueError, "nesterov: Nesterov momentum needs momentum > 0"),
        (lambda: SGD(0.1, momentum=0.9, nesterov=1), TypeError, "nesterov: expected a bool"),
        (lambda: Adam(math.inf), ValueError, "lr: expected a finite number > 0"),
        (lambda: Adam(betas=(0.9,)), TypeError, "betas: expected a pair"),
        (lambda: Adam(betas=(0.9, 1.0)), ValueError, r"betas\[1\]: expected a number in \[0, 1\)"),
        (lambda: Adam(eps=0), ValueError, "eps: expected a finite number > 0"),
        (lambda: clip_grad_norm({"a": np.ones(2)}, 0), ValueError, "max_norm: expected a finite number > 0"),
        (lambda: clip_grad_norm([np.ones(2)], 1.0), TypeError, "grads: expected a dict"),
        (lambda: clip_grad_norm({"a": [1.0]}, 1.0), TypeError, r"grads\['a'\]: expected a float NumPy array"),
    ],
)
def test_bad_arguments(make, exc, message):
    with pytest.raises(exc, match=message):
        make()


def test_bad_step_arguments():
    params = {"w": np.zeros(3)}
    opt = Adam()
    with pytest.raises(KeyError, match=r"grads: no parameter named \['v'\]"):
        opt.step(params, {"v": np.zeros(3)})
    with pytest.raises(ValueError, match=r"grads\['w'\]: expected the parameter's shape \(3,\), got \(2,\)"):
        opt.step(params, {"w": np.zeros(2)})
    with pytest.raises(TypeError, match="params: expected a dict"):
        opt.step([np.zeros(3)], {})
    with pytest.raises(TypeError, match=r"params\['w'\]: expected a float NumPy array"):
        opt.step({"w": [0.0, 0.0, 0.0]}, {"w": np.zeros(3)})
    frozen = np.zeros(3)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        opt.step({"w": frozen}, {"w": np.zeros(3)})
    opt.step(params, {"w": np.ones(3)})
    with pytest.raises(ValueError, match="one optimizer per model"):
        opt.step({"w": np.zeros(4)}, {"w": np.ones(4)})
    opt.reset()
    opt.step({"w": np.zeros(4)}, {"w": np.ones(4)})
    opt.lr = -1.0
    with pytest.raises(ValueError, match="lr: expected a finite number > 0"):
        opt.step(params, {"w": np.ones(3)})


# --------------------------------------------------------------------------- the compiled update


def numpy_adam(p, g, m, v, k, lr, betas, eps, weight_decay=0.0, decoupled=False):
    """The docstrings' rules as NumPy expressions on p's dtype (Python floats
    meet float32 arrays as float32): the update Adam ran before it was compiled."""
    b1, b2 = betas
    g = g.astype(p.dtype)
    if decoupled:
        p *= p.dtype.type(1 - lr * weight_decay)
    elif weight_decay:
        g = g + p.dtype.type(weight_decay) * p
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * (g * g)
    denom = np.sqrt(v) / math.sqrt(1 - b2**k)
    denom += eps
    p -= (lr / (1 - b1**k)) * (m / denom)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (17,), (64, 33), (300, 301)], ids=str)  # the last releases the GIL
@pytest.mark.parametrize(
    "make,decoupled",
    [
        (lambda: Adam(0.01), False),
        (lambda: Adam(0.003, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), False),
        (lambda: AdamW(0.01, weight_decay=0.05), True),
    ],
    ids=["adam", "adam-l2", "adamw"],
)
def test_compiled_adam_rounds_as_numpy(make, decoupled, shape, dtype):
    # Each operation of the compiled pass is the NumPy expression's, rounded the
    # same way: the parameters and both moments agree bit for bit over steps.
    rng = np.random.default_rng(sum(shape))
    opt = make()
    p = rng.standard_normal(shape).astype(dtype)
    mine, theirs = {"w": p.copy()}, p.copy()
    m, v = np.zeros_like(p), np.zeros_like(p)
    for k in range(1, 5):
        g = (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 3)).astype(dtype)
        opt.step(mine, {"w": g})
        numpy_adam(theirs, g, m, v, k, opt.lr, opt.betas, opt.eps, opt.weight_decay, decoupled)
        np.testing.assert_array_equal(mine["w"], theirs)
        np.testing.assert_array_equal(opt.state["w"]["exp_avg"], m)
        np.testing.assert_array_equal(opt.state["w"]["exp_avg_sq"], v)


def test_compiled_adam_updates_strided_parameters_in_place():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((8, 10))
    view = base[:, ::2]  # not contiguous: updated through a copy, written back
    expected, m, v = view.copy(), np.zeros((8, 5)), np.zeros((8, 5))
    untouched = base[:, 1::2].copy()
    g = rng.standard_normal((8, 5))
    Adam(0.1).step({"w": view}, {"w": g})
    numpy_adam(expected, g, m, v, 1, 0.1, (0.9, 0.999), 1e-8)
    np.testing.assert_array_equal(base[:, ::2], expected)
    np.testing.assert_array_equal(base[:, 1::2], untouched)


def test_compiled_adam_takes_restored_moments_of_another_dtype_or_layout_and_strided_gradients():
    # The binding refuses these; the step converts them and updates the parameter once.
    rng = np.random.default_rng(2)
    p = rng.standard_normal((6, 4)).astype(np.float32)
    g = rng.standard_normal((6, 8)).astype(np.float32)[:, ::2]  # strided
    m = (rng.standard_normal((4, 6)) * 0.1).T  # float64, Fortran order
    v = np.abs(rng.standard_normal((6, 4))) * 0.01  # float64
    opt = Adam(0.01)
    state = {"w": {"step": 3, "exp_avg": m, "exp_avg_sq": v}}
    opt.load_state_dict({"optimizer": "Adam", "hyperparameters": opt.hyperparameters(), "state": state})
    assert opt.state["w"]["exp_avg"].dtype == np.float64 and not opt.state["w"]["exp_avg"].flags.c_contiguous
    expected, m32, v32 = p.copy(), m.astype(np.float32), v.astype(np.float32)
    numpy_adam(expected, np.ascontiguousarray(g), m32, v32, 4, 0.01, (0.9, 0.999), 1e-8)
    opt.step({"w": p}, {"w": g})
    np.testing.assert_array_equal(p, expected)
    assert opt.state["w"]["step"] == 4
    for key, want in (("exp_avg", m32), ("exp_avg_sq", v32)):
        assert opt.state["w"][key].dtype == np.float32 and opt.state["w"][key].flags.c_contiguous
        np.testing.assert_array_equal(opt.state["w"][key], want)


def test_compiled_adam_propagates_non_finite_values_as_numpy():
    p = np.array([1.0, 2.0, 3.0], np.float32)
    expected, m, v = p.copy(), np.zeros(3, np.float32), np.zeros(3, np.float32)
    g = np.array([np.nan, np.inf, 1.0], np.float32)
    Adam(0.1).step({"w": p}, {"w": g})
    with np.errstate(invalid="ignore"):
        numpy_adam(expected, g, m, v, 1, 0.1, (0.9, 0.999), 1e-8)
    np.testing.assert_array_equal(p, expected)  # NaN where NumPy has NaN


def test_compiled_adam_refuses_what_would_crash_or_corrupt():
    from lstmfast import _core

    def call(p, g, m, v):  # a good parameter first, then the one under test (index 1)
        first = [np.ones(3), np.ones(3), np.zeros(3), np.zeros(3)]
        ps, gs, ms, vs = ([good, bad] for good, bad in zip(first, (p, g, m, v)))
        _core.adam_update(ps, gs, ms, vs, [0.1, 0.1], [0.5, 0.5], 0.9, 0.999, 1e-8, 0.0)
        return first[0]

    z = np.zeros(4)
    with pytest.raises(TypeError, match=r"params\[1\]: expected dtype float32 or float64, got int64"):
        call(np.zeros(4, np.int64), z, z.copy(), z.copy())
    with pytest.raises(TypeError, match=r"params\[1\]: expected a NumPy array, got list"):
        call([0.0] * 4, z, z.copy(), z.copy())
    with pytest.raises(TypeError, match=r"grads\[1\]: expected dtype float64, got float32"):
        call(z.copy(), np.zeros(4, np.float32), z.copy(), z.copy())
    with pytest.raises(ValueError, match=r"exp_avgs\[1\]: expected shape \(4,\), got \(5,\)"):
        call(z.copy(), z, np.zeros(5), z.copy())
    with pytest.raises(ValueError, match=r"exp_avg_sqs\[1\]: expected a C-contiguous array"):
        call(z.copy(), z, z.copy(), np.zeros(8)[::2])
    frozen = z.copy()
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match=r"params\[1\]: the array is read-only"):
        call(frozen, z, z.copy(), z.copy())
    with pytest.raises(ValueError, match=r"exp_avgs\[1\]: the array is read-only"):
        call(z.copy(), z, frozen, z.copy())
    shared = np.zeros(8)
    with pytest.raises(ValueError, match="do not share memory"):
        call(shared[:4], z, shared[2:6], z.copy())
    p = np.ones(4)
    before = p.copy()
    with pytest.raises(ValueError, match="do not share memory"):
        call(p, z, p, z.copy())
    np.testing.assert_array_equal(p, before)  # refused before anything was written
    # ... the parameter before it too: every parameter is checked before any is written
    first = [np.ones(3), np.ones(3), np.zeros(3), np.zeros(3)]
    with pytest.raises(ValueError, match=r"params\[1\], exp_avgs\[1\] and exp_avg_sqs\[1\]"):
        _core.adam_update(
            [first[0], p],
            [first[1], z],
            [first[2], p],
            [first[3], z.copy()],
            [0.1] * 2,
            [0.5] * 2,
            0.9,
            0.999,
            1e-8,
            0.0,
        )
    np.testing.assert_array_equal(first[0], np.ones(3))
    with pytest.raises(ValueError, match="expected sequences of one length"):
        _core.adam_update([first[0]], [first[1]], [first[2]], [first[3]], [0.1, 0.2], [0.5], 0.9, 0.999, 1e-8, 0.0)
    with pytest.raises(TypeError, match=r"step_sizes\[0\]: expected a number, got str"):
        _core.adam_update([first[0]], [first[1]], [first[2]], [first[3]], ["0.1"], [0.5], 0.9, 0.999, 1e-8, 0.0)


def test_compiled_adam_reads_a_gradient_that_shares_the_parameters_memory_first():
    # grad overlapping param (shifted by one element): the update reads the
    # gradient as it was before the call, as NumPy's expressions would.
    from lstmfast import _core

    buf = np.arange(1.0, 7.0)
    p, g = buf[:5], buf[1:]
    expected, m, v = p.copy(), np.zeros(5), np.zeros(5)
    numpy_adam(expected, g.copy(), m, v, 1, 0.1, (0.9, 0.999), 1e-8)
    m2, v2 = np.zeros(5), np.zeros(5)
    _core.adam_update([p], [g], [m2], [v2], [0.1 / (1 - 0.9)], [math.sqrt(1 - 0.999)], 0.9, 0.999, 1e-8, 0.0)
    np.testing.assert_array_equal(p, expected)
