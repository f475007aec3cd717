"""Variable lengths (right-padded batches) and reverse direction in lstmfast.reference.

Checked three ways: centred finite differences of every gradient; independent
constructions written here (each sequence run alone; reverse = the forward run on
inputs flipped within each length); and PyTorch's packed sequences and the reverse
half of its bidirectional layers.
"""

from __future__ import annotations

import numpy as np
import pytest

from lstmfast import convert
from lstmfast import reference as ref
from test_reference import FD_TOL, fd_error, numeric_grads

T, B, I, H = 5, 4, 2, 3
LENGTHS = np.array([3, 5, 1, 4])  # unsorted; includes a length-1 and a full-length sequence
GATES = {"lstm": 4, "gru": 3, "rnn": 1}
CELLS = ["lstm", "gru", "rnn"]


def make_inputs(
    rng: np.random.Generator, cell: str, T: int = T, B: int = B, I: int = I, H: int = H, bias: bool = True
) -> dict:
    G = GATES[cell] * H
    p = {
        "x": rng.standard_normal((T, B, I)),
        "w_ih": 0.6 * rng.standard_normal((G, I)),
        "w_hh": 0.6 * rng.standard_normal((G, H)),
        "b_ih": 0.3 * rng.standard_normal(G) if bias else None,
        "b_hh": 0.3 * rng.standard_normal(G) if bias else None,
        "h0": rng.standard_normal((B, H)),
    }
    if cell == "lstm":
        p["c0"] = rng.standard_normal((B, H))
    return p


def forward(cell: str, p: dict, **kw):
    """(y, [h_n] or [h_n, c_n], tape) for any cell."""
    if cell == "lstm":
        y, h_n, c_n, tape = ref.lstm_forward(**p, **kw)
        return y, [h_n, c_n], tape
    y, h_n, tape = (ref.gru_forward if cell == "gru" else ref.rnn_forward)(**p, **kw)
    return y, [h_n], tape


def backward(cell: str, tape, dy, dstates) -> dict:
    fn = {"lstm": ref.lstm_backward, "gru": ref.gru_backward, "rnn": ref.rnn_backward}[cell]
    return fn(tape, dy, *dstates)


def loss_weights(rng: np.random.Generator, cell: str, T: int, B: int, H: int):
    """R (T, B, H) and one (B, H) array per final state: L = Σ y·R + Σ h_n·S (+ Σ c_n·U)."""
    return rng.standard_normal((T, B, H)), [rng.standard_normal((B, H)) for _ in range(1 + (cell == "lstm"))]


def padding(lengths, T: int) -> np.ndarray:
    """(T, B) bool: True where time t is past the end of sequence b."""
    return np.arange(T)[:, None] >= np.asarray(lengths)


def flip_within(a: np.ndarray, lengths) -> np.ndarray:
    """Reverse the first lengths[b] steps of every sequence b; the padding stays put."""
    out = a.copy()
    for b, L in enumerate(lengths):
        out[:L, b] = a[:L, b][::-1]
    return out


# ----------------------------------------------------------------- finite differences


@pytest.mark.parametrize(
    "lengths,reverse", [(None, True), (LENGTHS, False), (LENGTHS, True)], ids=["reverse", "lengths", "lengths+reverse"]
)
@pytest.mark.parametrize("cell", CELLS)
def test_gradients_match_finite_differences(cell, lengths, reverse):
    rng = np.random.default_rng([GATES[cell], reverse, lengths is None])
    inputs = make_inputs(rng, cell)
    R, S = loss_weights(rng, cell, T, B, H)

    def loss(p):
        y, states, _ = forward(cell, p, lengths=lengths, reverse=reverse)
        return np.sum(y * R) + sum(np.sum(s * w) for s, w in zip(states, S))

    _, _, tape = forward(cell, inputs, lengths=lengths, reverse=reverse, training=True)
    ana = backward(cell, tape, R, S)
    assert set(ana) == set(inputs)
    assert fd_error(numeric_grads(loss, inputs), ana) < FD_TOL


# ----------------------------------------------------------------- the padding


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("cell", CELLS)
def test_padding_is_zero_and_inert(cell, reverse):
    rng = np.random.default_rng(20 + GATES[cell])
    p = make_inputs(rng, cell)
    R, S = loss_weights(rng, cell, T, B, H)
    pad = padding(LENGTHS, T)
    y, states, tape = forward(cell, p, lengths=LENGTHS, reverse=reverse, training=True)
    g = backward(cell, tape, R, S)
    assert np.all(y[pad] == 0) and np.all(y[~pad] != 0)
    assert np.all(g["x"][pad] == 0) and np.all(g["x"][~pad] != 0)

    # Whatever sits in x and dy past the ends, even NaN, changes nothing at all.
    for junk in (np.nan, 1e6):
        p2 = {**p, "x": p["x"].copy()}
        p2["x"][pad] = junk
        R2 = R.copy()
        R2[pad] = junk
        y2, states2, tape2 = forward(cell, p2, lengths=LENGTHS, reverse=reverse, training=True)
        g2 = backward(cell, tape2, R2, S)
        np.testing.assert_array_equal(y2, y)
        for a, b in zip(states2, states):
            np.testing.assert_array_equal(a, b)
        for k in g:
            np.testing.assert_array_equal(g2[k], g[k], err_msg=k)


@pytest.mark.parametrize("cell", CELLS)
def test_full_lengths_equal_no_lengths(cell):
    rng = np.random.default_rng(30)
    p = make_inputs(rng, cell)
    R, S = loss_weights(rng, cell, T, B, H)
    for reverse in (False, True):
        y, states, tape = forward(cell, p, reverse=reverse, training=True)
        y2, states2, tape2 = forward(cell, p, lengths=[T] * B, reverse=reverse, training=True)
        g, g2 = backward(cell, tape, R, S), backward(cell, tape2, R, S)
        for a, b in [(y, y2), *zip(states, states2), *((g[k], g2[k]) for k in g)]:
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)
        assert tape.lengths is None and tape2.lengths.tolist() == [T] * B
        assert tape.reverse is reverse and tape2.reverse is reverse


# ----------------------------------------------------------------- independent constructions


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("cell", CELLS)
def test_each_sequence_alone_gives_the_same(cell, reverse):
    """The batch with lengths equals B separate runs on x[:L_b, b:b+1], forward and backward."""
    rng = np.random.default_rng(40 + GATES[cell])
    p = make_inputs(rng, cell)
    R, S = loss_weights(rng, cell, T, B, H)
    y, states, tape = forward(cell, p, lengths=LENGTHS, reverse=reverse, training=True)
    g = backward(cell, tape, R, S)

    summed = dict.fromkeys(("w_ih", "w_hh", "b_ih", "b_hh"), 0.0)
    for b, L in enumerate(LENGTHS):
        one = {**p, "x": p["x"][:L, b : b + 1], "h0": p["h0"][b : b + 1]}
        if cell == "lstm":
            one["c0"] = p["c0"][b : b + 1]
        y_b, states_b, tape_b = forward(cell, one, reverse=reverse, training=True)
        g_b = backward(cell, tape_b, R[:L, b : b + 1], [s[b : b + 1] for s in S])
        np.testing.assert_allclose(y[:L, b], y_b[:, 0], rtol=0, atol=1e-14)
        for s, s_b in zip(states, states_b):
            np.testing.assert_allclose(s[b], s_b[0], rtol=0, atol=1e-14)
        np.testing.assert_allclose(g["x"][:L, b], g_b["x"][:, 0], rtol=0, atol=1e-13)
        np.testing.assert_allclose(g["h0"][b], g_b["h0"][0], rtol=0, atol=1e-13)
        if cell == "lstm":
            np.testing.assert_allclose(g["c0"][b], g_b["c0"][0], rtol=0, atol=1e-13)
        for k in summed:
            summed[k] = summed[k] + g_b[k]
    for k in summed:
        np.testing.assert_allclose(g[k], summed[k], rtol=0, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "ragged"])
@pytest.mark.parametrize("cell", CELLS)
def test_reverse_is_forward_on_flipped_sequences(cell, lengths):
    """reverse=True equals the forward run on x flipped within each length, y flipped back."""
    rng = np.random.default_rng(50 + GATES[cell])
    p = make_inputs(rng, cell)
    R, S = loss_weights(rng, cell, T, B, H)
    L = [T] * B if lengths is None else lengths
    y, states, tape = forward(cell, p, lengths=lengths, reverse=True, training=True)
    g = backward(cell, tape, R, S)

    flipped = {**p, "x": flip_within(p["x"], L)}
    y_f, states_f, tape_f = forward(cell, flipped, lengths=lengths, training=True)
    g_f = backward(cell, tape_f, flip_within(R, L), S)
    np.testing.assert_allclose(y, flip_within(y_f, L), rtol=0, atol=1e-14)
    for a, b in zip(states, states_f):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)
    np.testing.assert_allclose(g["x"], flip_within(g_f["x"], L), rtol=0, atol=1e-13)
    for k in g.keys() - {"x"}:
        np.testing.assert_allclose(g[k], g_f[k], rtol=0, atol=1e-13, err_msg=k)


@pytest.mark.parametrize("cell", CELLS)
def test_chunks_with_lengths_and_reverse(cell):
    """Carried-in gradients still work: a reversed ragged batch in two chunks of time.

    With reverse=True the loop starts at each sequence's end, so chunks are taken
    from the end: first times [2, T), then [0, 2) with the state carried over.
    """
    lengths = np.array([5, 5, 5, 5])  # chunking in time needs equal lengths
    rng = np.random.default_rng(60)
    p = make_inputs(rng, cell)
    R, S = loss_weights(rng, cell, T, B, H)
    y, states, tape = forward(cell, p, lengths=lengths, reverse=True, training=True)
    g = backward(cell, tape, R, S)

    late = {**p, "x": p["x"][2:]}
    y_late, states_late, tape_late = forward(cell, late, reverse=True, training=True)
    early = {**p, "x": p["x"][:2], "h0": states_late[0]}
    if cell == "lstm":
        early["c0"] = states_late[1]
    y_early, states_early, tape_early = forward(cell, early, reverse=True, training=True)
    np.testing.assert_allclose(np.concatenate([y_early, y_late]), y, rtol=0, atol=1e-14)
    g_early = backward(cell, tape_early, R[:2], S)
    carried = [g_early["h0"]] + ([g_early["c0"]] if cell == "lstm" else [])
    g_late = backward(cell, tape_late, R[2:], carried)
    np.testing.assert_allclose(np.concatenate([g_early["x"], g_late["x"]]), g["x"], rtol=0, atol=1e-13)
    np.testing.assert_allclose(g_late["h0"], g["h0"], rtol=0, atol=1e-13)
    for k in ("w_ih", "w_hh", "b_ih", "b_hh"):
        np.testing.assert_allclose(g_early[k] + g_late[k], g[k], rtol=0, atol=1e-12, err_msg=k)


# ----------------------------------------------------------------- API contract


@pytest.mark.parametrize("cell", CELLS)
def test_lengths_input_is_not_modified_and_tape_keeps_its_own_copy(cell):
    rng = np.random.default_rng(70)
    p = make_inputs(rng, cell)
    R, S = loss_weights(rng, cell, T, B, H)
    lengths = LENGTHS.astype(np.int32)
    _, _, tape = forward(cell, p, lengths=lengths, reverse=True, training=True)
    first = backward(cell, tape, R, S)
    assert tape.lengths.dtype == np.int64 and not tape.lengths.flags.writeable
    assert not np.shares_memory(tape.lengths, lengths) and tape.reverse is True
    lengths[:] = 2  # the caller reuses its array
    np.testing.assert_array_equal(tape.lengths, LENGTHS)
    second = backward(cell, tape, R, S)
    for k in first:
        np.testing.assert_array_equal(first[k], second[k])
    for name in ("x", "gates", "hs"):
        if hasattr(tape, name):
            assert not getattr(tape, name).flags.writeable


@pytest.mark.parametrize("cell", CELLS)
def test_lengths_with_empty_batch_and_list_input(cell):
    rng = np.random.default_rng(71)
    p = make_inputs(rng, cell, B=0)
    y, states, tape = forward(cell, p, lengths=[], reverse=True, training=True)
    assert y.shape == (T, 0, H) and states[0].shape == (0, H)
    g = backward(cell, tape, np.zeros((T, 0, H)), [None] * len(states))
    assert g["x"].shape == (T, 0, I) and not g["w_hh"].any()

    p = make_inputs(rng, cell)
    a = forward(cell, p, lengths=LENGTHS.tolist())
    b = forward(cell, p, lengths=LENGTHS.astype(np.uint8))
    np.testing.assert_array_equal(a[0], b[0])


def test_float32_with_lengths_and_reverse():
    rng = np.random.default_rng(72)
    for cell in CELLS:
        p64 = make_inputs(rng, cell)
        p32 = {k: v.astype(np.float32) for k, v in p64.items()}
        R, S = loss_weights(rng, cell, T, B, H)
        y64, _, t64 = forward(cell, p64, lengths=LENGTHS, reverse=True, training=True)
        y32, s32, t32 = forward(cell, p32, lengths=LENGTHS, reverse=True, training=True)
        assert y32.dtype == s32[0].dtype == np.float32
        np.testing.assert_allclose(y32, y64, rtol=0, atol=1e-5)
        g64 = backward(cell, t64, R, S)
        g32 = backward(cell, t32, R.astype(np.float32), [s.astype(np.float32) for s in S])
        for k in g64:
            assert g32[k].dtype == np.float32
            np.testing.assert_allclose(g32[k], g64[k], rtol=0, atol=1e-4)


# ----------------------------------------------------------------- PyTorch

TORCH_CELLS = ["lstm", "gru", "rnn_tanh", "rnn_relu"]
TORCH_T, TORCH_B, TORCH_I, TORCH_H = 6, 5, 3, 4
TORCH_LENGTHS = np.array([4, 6, 1, 3, 6])


def torch_module(torch, cell: str, I: int, H: int, **kw):
    if cell == "lstm":
        return torch.nn.LSTM(I, H, dtype=torch.float64, **kw)
    if cell == "gru":
        return torch.nn.GRU(I, H, dtype=torch.float64, **kw)
    return torch.nn.RNN(I, H, nonlinearity=cell[4:], dtype=torch.float64, **kw)


def weights_of(p: dict) -> dict:
    return {k: p[k] for k in convert.PARAM_KEYS}


def ours_kw(cell: str) -> dict:
    return {"nonlinearity": cell[4:]} if cell.startswith("rnn") else {}


def torch_run(torch, module, x, states, lengths, R, S, half=None):
    """Run ``module`` (packed if ``lengths``), loss Σ y·R + Σ h_n·S; returns y, h_n list, leaves.

    ``half``: for a bidirectional module, 1 takes the reverse direction's output
    columns and final states (the loss ignores the forward direction).
    """
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in states]
    inp = xt
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), enforce_sorted=False)
    out, hn = module(inp, tuple(st) if len(st) == 2 else st[0])
    if lengths is not None:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=x.shape[0])
    hn = list(hn) if isinstance(hn, tuple) else [hn]
    d = 0 if half is None else half
    H = hn[0].shape[-1]
    y = out if half is None else out[..., half * H : (half + 1) * H]
    finals = [h[d] for h in hn]
    loss = (y * torch.from_numpy(R)).sum() + sum((f * torch.from_numpy(s)).sum() for f, s in zip(finals, S))
    loss.backward()
    return y.detach().numpy(), [f.detach().numpy() for f in finals], xt, st


def max_err(a, b) -> float:
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b))) if a.size else 0.0


@pytest.mark.parametrize("cell", TORCH_CELLS)
def test_lengths_match_torch_packed_sequences(cell):
    torch = pytest.importorskip("torch")
    base = cell[:3] if cell.startswith("rnn") else cell
    T_, B_, I_, H_ = TORCH_T, TORCH_B, TORCH_I, TORCH_H
    rng = np.random.default_rng(80 + len(cell))
    p = make_inputs(rng, base, T_, B_, I_, H_)
    R, S = loss_weights(rng, base, T_, B_, H_)
    y, states, tape = forward(base, p, lengths=TORCH_LENGTHS, training=True, **ours_kw(cell))
    g = backward(base, tape, R, S)

    module = torch_module(torch, cell, I_, H_)
    module.load_state_dict(convert.to_torch_state_dict(weights_of(p), tensors=True))
    init = [p["h0"][None]] + ([p["c0"][None]] if base == "lstm" else [])
    ty, tstates, xt, st = torch_run(torch, module, p["x"], init, TORCH_LENGTHS, R, S)
    errs = [max_err(y, ty)] + [max_err(a, b) for a, b in zip(states, tstates)]
    errs += [max_err(g["x"], xt.grad.numpy()), max_err(g["h0"], st[0].grad.numpy()[0])]
    if base == "lstm":
        errs.append(max_err(g["c0"], st[1].grad.numpy()[0]))
    for k, name in (("w_ih", "weight_ih_l0"), ("w_hh", "weight_hh_l0"), ("b_ih", "bias_ih_l0"), ("b_hh", "bias_hh_l0")):
        errs.append(max_err(g[k], getattr(module, name).grad.numpy()))
    assert max(errs) < 1e-10, errs


@pytest.mark.parametrize("lengths", [None, TORCH_LENGTHS], ids=["full", "packed"])
@pytest.mark.parametrize("cell", TORCH_CELLS)
def test_reverse_matches_torch_bidirectional_reverse_half(cell, lengths):
    torch = pytest.importorskip("torch")
    base = cell[:3] if cell.startswith("rnn") else cell
    T_, B_, I_, H_ = TORCH_T, TORCH_B, TORCH_I, TORCH_H
    rng = np.random.default_rng(90 + len(cell))
    p_fwd = make_inputs(rng, base, T_, B_, I_, H_)  # the forward direction: ignored by the loss
    p = make_inputs(rng, base, T_, B_, I_, H_)
    p["x"] = p_fwd["x"]
    R, S = loss_weights(rng, base, T_, B_, H_)
    y, states, tape = forward(base, p, lengths=lengths, reverse=True, training=True, **ours_kw(cell))
    g = backward(base, tape, R, S)

    module = torch_module(torch, cell, I_, H_, bidirectional=True)
    module.load_state_dict(
        {
            **convert.to_torch_state_dict(weights_of(p_fwd), tensors=True),
            **convert.to_torch_state_dict(weights_of(p), tensors=True, reverse=True),
        }
    )
    init = [np.stack([p_fwd["h0"], p["h0"]])]
    if base == "lstm":
        init.append(np.stack([p_fwd["c0"], p["c0"]]))
    ty, tstates, xt, st = torch_run(torch, module, p["x"], init, lengths, R, S, half=1)
    errs = [max_err(y, ty)] + [max_err(a, b) for a, b in zip(states, tstates)]
    errs += [max_err(g["x"], xt.grad.numpy()), max_err(g["h0"], st[0].grad.numpy()[1])]
    if base == "lstm":
        errs.append(max_err(g["c0"], st[1].grad.numpy()[1]))
    for k, name in (("w_ih", "weight_ih_l0"), ("w_hh", "weight_hh_l0"), ("b_ih", "bias_ih_l0"), ("b_hh", "bias_hh_l0")):
        errs.append(max_err(g[k], getattr(module, name + "_reverse").grad.numpy()))
    assert max(errs) < 1e-10, errs
