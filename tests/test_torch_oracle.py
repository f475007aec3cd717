"""The layers against torch.nn.LSTM / GRU / RNN (when torch is installed:
`pip install torch==2.13.0`, a CPU build; CI installs it): stacked,
bidirectional, batch-first and variable-length (torch's packed sequences),
outputs, final states and every gradient (autograd).

Weights are copied across unchanged (same names, layout and gate order).
float64: both sides are exact up to summation order, tolerance 1e-10 relative
to the largest magnitude; float32: 2e-5 (see test_core.py for the reasoning).
"""

from __future__ import annotations

import numpy as np
import pytest

import lstmfast

torch = pytest.importorskip("torch")

RTOL = {np.float64: 1e-10, np.float32: 2e-5}
CLASSES = {
    "lstm": (lstmfast.LSTM, torch.nn.LSTM),
    "gru": (lstmfast.GRU, torch.nn.GRU),
    "rnn": (lstmfast.RNN, torch.nn.RNN),
}


def close(a, b, dtype, what=""):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, what
    err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-300) if b.size else 0.0
    assert err <= RTOL[dtype], (what, err)


def run_torch(module, x, state, dy, dstate, lengths, batch_first):
    """Outputs, final state and gradients of sum(y*dy) + sum(state_n*dstate)."""
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in state]
    if lengths is not None:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            xt, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False
        )
        out, fin = module(packed, tuple(st) if len(st) == 2 else st[0])
        y, _ = torch.nn.utils.rnn.pad_packed_sequence(
            out, batch_first=batch_first, total_length=x.shape[1 if batch_first else 0]
        )
    else:
        y, fin = module(xt, tuple(st) if len(st) == 2 else st[0])
    fin = fin if isinstance(fin, tuple) else (fin,)
    loss = (y * torch.tensor(dy)).sum() + sum((f * torch.tensor(d)).sum() for f, d in zip(fin, dstate))
    loss.backward()
    grads = {"x": xt.grad.numpy(), "h0": st[0].grad.numpy()}
    if len(st) == 2:
        grads["c0"] = st[1].grad.numpy()
    grads.update({name: p.grad.numpy() for name, p in module.named_parameters()})
    return y.detach().numpy(), [f.detach().numpy() for f in fin], grads


CONFIGS = [  # (cell, num_layers, bidirectional, ragged, batch_first)
    ("lstm", 1, False, False, False),
    ("lstm", 2, True, True, False),
    ("lstm", 3, False, True, True),
    ("lstm", 1, True, False, True),
    ("gru", 1, False, False, False),
    ("gru", 2, True, True, True),
    ("rnn", 2, True, True, False),
    ("rnn", 1, False, False, True),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cell,layers,bidirectional,ragged,batch_first", CONFIGS)
def test_layers_match_torch(isa, cell, layers, bidirectional, ragged, batch_first, dtype):
    T, B, I, H = 7, 5, 3, 19
    rng = np.random.default_rng(layers * 10 + len(cell))
    ours_cls, torch_cls = CLASSES[cell]
    options = {"num_layers": layers, "bidirectional": bidirectional, "batch_first": batch_first}
    layer = ours_cls(I, H, dtype=dtype, seed=1, **options)
    module = torch_cls(I, H, **options).to(torch.float64 if dtype == np.float64 else torch.float32)
    module.load_state_dict({k: torch.tensor(v) for k, v in layer.state_dict().items()})
    D = 2 if bidirectional else 1
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I)).astype(dtype)
    parts = 2 if cell == "lstm" else 1
    state = [(0.5 * rng.standard_normal((layers * D, B, H))).astype(dtype) for _ in range(parts)]
    dy = rng.standard_normal((B, T, D * H) if batch_first else (T, B, D * H)).astype(dtype)
    dstate = [rng.standard_normal((layers * D, B, H)).astype(dtype) for _ in range(parts)]
    lengths = None
    if ragged:
        lengths = rng.integers(1, T + 1, B)
        lengths[1] = T
        lengths[2] = 1
        pad = np.arange(T)[:, None] >= lengths[None, :]  # (T, B)
        dy[(pad.T if batch_first else pad)] = 0  # torch's padded outputs are constants

    y, fin, tape = layer.forward(x, tuple(state) if parts == 2 else state[0], lengths=lengths)
    grads = layer.backward(tape, dy, tuple(dstate) if parts == 2 else dstate[0])
    ty, tfin, tgrads = run_torch(module, x, state, dy, dstate, lengths, batch_first)
    close(y, ty, dtype, "y")
    for ours, theirs in zip(fin if parts == 2 else (fin,), tfin):
        close(ours, theirs, dtype, "final state")
    assert set(grads) == set(tgrads)
    for name in grads:
        close(grads[name], tgrads[name], dtype, name)


def test_torch_state_dicts_load_unchanged():
    for cell in CLASSES:
        ours_cls, torch_cls = CLASSES[cell]
        module = torch_cls(4, 6, num_layers=2, bidirectional=True)
        layer = ours_cls(4, 6, num_layers=2, bidirectional=True)
        layer.load_state_dict(module.state_dict())  # tensors accepted as they are
        x = np.random.default_rng(0).standard_normal((5, 2, 4)).astype(np.float32)
        close(layer(x)[0], module(torch.tensor(x))[0].detach().numpy(), np.float32, cell)
