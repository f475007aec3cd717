"""Optimizers and gradient clipping: hand-derived updates, torch.optim, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lstmfast.training.optim import SGD, Adam, clip_grad_norm


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
