"""The fast path and the layers against torch.nn.LSTM / torch.nn.RNN (when torch
is installed: `pip install torch==2.13.0`, a CPU build; CI installs it).

Weights are copied across unchanged (same layout and gate order), outputs and
all gradients (autograd) are compared. float64: both sides are exact up to
summation order, tolerance 1e-10 relative to the largest magnitude; float32:
2e-5 (see test_core.py for the reasoning).
"""

from __future__ import annotations

import numpy as np
import pytest

import lstmfast

torch = pytest.importorskip("torch")

RTOL = {np.float64: 1e-10, np.float32: 2e-5}


def close(a: np.ndarray, b: np.ndarray, dtype) -> None:
    assert a.shape == b.shape
    err = np.abs(a.astype(np.float64) - b.astype(np.float64)).max() / max(np.abs(b).max(), 1e-300)
    assert err <= RTOL[dtype]


def torch_run(module, x, h0, dy, dstate):
    xt = torch.tensor(x, requires_grad=True)
    state = tuple(torch.tensor(s, requires_grad=True) for s in h0)
    y, hn = module(xt, state if len(state) == 2 else state[0])
    hn = hn if isinstance(hn, tuple) else (hn,)
    loss = (y * torch.tensor(dy)).sum() + sum((h * torch.tensor(d)).sum() for h, d in zip(hn, dstate))
    loss.backward()
    grads = {"x": xt.grad.numpy(), "h0": state[0].grad.numpy()}
    if len(state) == 2:
        grads["c0"] = state[1].grad.numpy()
    for name, p in module.named_parameters():
        grads[name] = p.grad.numpy()
    return y.detach().numpy(), [h.detach()[0].numpy() for h in hn], grads


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("T,B,I,H", [(1, 1, 1, 1), (7, 5, 3, 37), (12, 16, 32, 64)])
def test_lstm_layer_matches_torch(isa, T, B, I, H, dtype):  # noqa: E741
    rng = np.random.default_rng(T + H)
    layer = lstmfast.LSTM(I, H, dtype=dtype, seed=1)
    module = torch.nn.LSTM(I, H).to(torch.float64 if dtype == np.float64 else torch.float32)
    module.load_state_dict({k: torch.tensor(v) for k, v in layer.state_dict().items()})
    x = rng.standard_normal((T, B, I)).astype(dtype)
    h0, c0 = (0.5 * rng.standard_normal((B, H))).astype(dtype), (0.5 * rng.standard_normal((B, H))).astype(dtype)
    dy = rng.standard_normal((T, B, H)).astype(dtype)
    dh, dc = rng.standard_normal((B, H)).astype(dtype), rng.standard_normal((B, H)).astype(dtype)

    y, (h_n, c_n), tape = layer.forward(x, (h0, c0), training=True)
    grads = layer.backward(tape, dy, (dh, dc))
    ty, (th, tc), tgrads = torch_run(module, x, (h0[None], c0[None]), dy, (dh[None], dc[None]))
    tgrads["h0"], tgrads["c0"] = tgrads["h0"][0], tgrads["c0"][0]
    close(y, ty, dtype)
    close(h_n, th, dtype)
    close(c_n, tc, dtype)
    assert set(grads) == set(tgrads)
    for name in grads:
        close(grads[name], tgrads[name], dtype)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rnn_layer_matches_torch(isa, nonlinearity, dtype):
    T, B, I, H = 9, 4, 6, 21  # noqa: E741
    rng = np.random.default_rng(3)
    layer = lstmfast.RNN(I, H, dtype=dtype, seed=2, nonlinearity=nonlinearity)
    module = torch.nn.RNN(I, H, nonlinearity=nonlinearity).to(torch.float64 if dtype == np.float64
                                                               else torch.float32)
    module.load_state_dict({k: torch.tensor(v) for k, v in layer.state_dict().items()})
    x = rng.standard_normal((T, B, I)).astype(dtype)
    h0 = (0.5 * rng.standard_normal((B, H))).astype(dtype)
    dy = rng.standard_normal((T, B, H)).astype(dtype)
    dh = rng.standard_normal((B, H)).astype(dtype)
    y, h_n, tape = layer.forward(x, h0, training=True)
    grads = layer.backward(tape, dy, dh)
    ty, (th,), tgrads = torch_run(module, x, (h0[None],), dy, (dh[None],))
    tgrads["h0"] = tgrads["h0"][0]
    close(y, ty, dtype)
    close(h_n, th, dtype)
    for name in tgrads:
        close(grads[name], tgrads[name], dtype)


def test_torch_state_dict_loads_unchanged():
    module = torch.nn.LSTM(4, 6)
    layer = lstmfast.LSTM(4, 6)
    layer.load_state_dict(module.state_dict())  # tensors accepted as they are
    x = np.random.default_rng(0).standard_normal((5, 2, 4)).astype(np.float32)
    y, _ = layer(x)
    close(y, module(torch.tensor(x))[0].detach().numpy(), np.float32)
