"""Weights packed once for inference (lstmfast.pack_weights, layer.prepared()).

A call given packed weights runs the kernels of a call that packs its own, on the
same layout: the same numbers bit for bit, for every cell, option, dtype and
instruction set. The one exception is one float32/float64 step (T = 1) of a few
sequences: unpacked, it reads the weights' rows (kernels/row_products.h), whose
sums run in another order; packed, it runs the time loop's first step, so it is
compared with the first step of a longer unpacked call (bit for bit) and with the
reference (test_core's tolerances: float64 1e-10, float32 against the float64
reference 2e-5). Packed weights are refused wherever their layout would not fit.
"""

from __future__ import annotations

import multiprocessing
import pickle
import sys

import numpy as np
import pytest

import lstmfast
from lstmfast import _core
from lstmfast import reference as ref
from lstmfast.training import Adam

RTOL = {np.float64: 1e-10, np.float32: 2e-5}
CELLS = ["lstm", "lstm-options", "gru", "gru-reset-first", "rnn-tanh", "rnn-relu"]
SHAPES = [(3, 5, 7, 37), (2, 1, 3, 1), (4, 17, 16, 20), (2, 3, 40, 70)]  # T, B, I, H


def bfloat16_runs() -> bool:
    """Whether precision="bfloat16" runs bfloat16 kernels here (else the float32 ones)."""
    return bool(lstmfast.config.kernel_config()["bfloat16_products"])


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b).max() / max(np.abs(b).max(), 1e-300))


def case(make_case, cell: str, T: int, B: int, I: int, H: int, seed: int, dtype=np.float64):
    """(function name, arrays, keyword options, pack_weights keywords), in dtype."""
    rng = np.random.default_rng(seed)
    kind = cell.split("-")[0]
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[kind]
    args = make_case(rng, T, B, I, H, gates=gates)
    if kind == "lstm":
        args["c0"] = rng.standard_normal((B, H))
    args = {k: v.astype(dtype) for k, v in args.items()}
    kw: dict = {}
    pack_kw: dict = {}
    if cell == "lstm-options":
        kw = {"peepholes": rng.uniform(-1, 1, 3 * H).astype(dtype), "clip": 1.5, "input_forget": True}
    if cell == "gru-reset-first":
        kw = pack_kw = {"reset_after": False}
    if kind == "rnn":
        kw = {"nonlinearity": cell[4:]}
    return kind, args, kw, pack_kw


def call(kind: str, args: dict, kw: dict, **extra):
    return getattr(lstmfast, kind + "_forward")(**args, **kw, **extra)[:-1]


def with_packed(kind: str, args: dict, kw: dict, pack_kw: dict, precision=None, **extra):
    packed = lstmfast.pack_weights(kind, args["w_ih"], args["w_hh"], precision=precision, **pack_kw)
    own = {**args, "w_ih": packed.w_ih, "w_hh": packed.w_hh}
    return call(kind, own, kw, packed=packed, precision=precision, **extra)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("cell", CELLS)
def test_packed_equals_packing_in_the_call(isa, cell, shape, dtype, make_case):
    kind, args, kw, pack_kw = case(make_case, cell, *shape, seed=sum(shape), dtype=dtype)
    expected = call(kind, args, kw)
    for a, b in zip(with_packed(kind, args, kw, pack_kw), expected):
        np.testing.assert_array_equal(a, b)
    lengths = np.arange(shape[1]) % (shape[0] + 1)  # 0..T, with sequences of length 0
    for reverse in (False, True):
        expected = call(kind, args, kw, lengths=lengths, reverse=reverse)
        for a, b in zip(with_packed(kind, args, kw, pack_kw, lengths=lengths, reverse=reverse), expected):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("B,H", [(1, 16), (1, 128), (16, 64), (16, 33), (3, 300)])
@pytest.mark.parametrize("cell", CELLS)
def test_one_packed_step(isa, cell, B, H, dtype, make_case):
    kind, args, kw, pack_kw = case(make_case, cell, 2, B, 16, H, seed=B + H, dtype=dtype)
    first = {**args, "x": args["x"][:1]}
    packed = with_packed(kind, first, kw, pack_kw)
    rows = kind != "gru" or "reset_after" not in kw  # the reset-before GRU never steps from the rows
    G = {"lstm": 4, "gru": 3, "rnn": 1}[kind] * H
    if B * G < 512 or not rows:  # the packed step reads the rows too (too small for the time loop), or never does
        for a, b in zip(packed, call(kind, first, kw)):
            np.testing.assert_array_equal(a, b)
    else:  # the time loop's first step, as a longer unpacked call takes it
        np.testing.assert_array_equal(packed[0][0], call(kind, args, kw)[0][0])
    wide = {k: v.astype(np.float64) if isinstance(v, np.ndarray) else v for k, v in {**first, **kw}.items()}
    slow = getattr(ref, kind + "_forward")(**wide)[:-1]
    for a, b in zip(packed, slow):
        assert rel_err(a, b) <= RTOL[dtype]


@pytest.mark.parametrize("shape", [(1, 1, 16, 512), (1, 16, 16, 37), (5, 3, 7, 20)])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-tanh"])
def test_packed_bfloat16_equals_packing_in_the_call(isa, cell, shape, make_case):
    # On CPUs without AVX512_BF16 (and under avx2, portable) both run the float32
    # kernels; then T = 1 differs as in test_one_packed_step, so only T >= 2 is compared.
    kind, args, kw, pack_kw = case(make_case, cell, *shape, seed=7, dtype=np.float32)
    if shape[0] == 1 and not bfloat16_runs():
        pytest.skip("the float32 kernels run (no bfloat16 kernels here)")
    expected = call(kind, args, kw, precision="bfloat16")
    for a, b in zip(with_packed(kind, args, kw, pack_kw, precision="bfloat16"), expected):
        np.testing.assert_array_equal(a, b)


# -- refusals ---------------------------------------------------------------------------


def lstm_case(make_case, dtype=np.float32, T=2, B=3, I=4, H=5):
    _, args, _, _ = case(make_case, "lstm", T, B, I, H, seed=1, dtype=dtype)
    return args, lstmfast.pack_weights("lstm", args["w_ih"], args["w_hh"])


def test_pack_weights_refuses_bad_arguments(make_case):
    args, _ = lstm_case(make_case)
    w_ih, w_hh = args["w_ih"], args["w_hh"]
    with pytest.raises(ValueError, match="cell"):
        lstmfast.pack_weights("lstmx", w_ih, w_hh)
    with pytest.raises(ValueError, match="w_hh"):
        lstmfast.pack_weights("gru", w_ih, w_hh)  # 4H rows, not 3H
    with pytest.raises(ValueError, match="w_ih"):
        lstmfast.pack_weights("lstm", w_ih[:-1], w_hh)
    with pytest.raises(TypeError, match="dtype"):
        lstmfast.pack_weights("lstm", w_ih.astype(np.float64), w_hh)
    with pytest.raises(TypeError):
        lstmfast.pack_weights("lstm", w_ih.astype(np.int64), w_hh.astype(np.int64))
    with pytest.raises(ValueError, match="reset_after"):
        lstmfast.pack_weights("lstm", w_ih, w_hh, reset_after=False)
    with pytest.raises(TypeError, match="reset_after"):
        _core.pack_weights("gru", w_ih[:15], w_hh[:15], reset_after=1)
    with pytest.raises(ValueError, match="precision"):
        lstmfast.pack_weights("lstm", w_ih, w_hh, precision="float16")
    with pytest.raises(TypeError, match="float32"):
        lstmfast.pack_weights("lstm", w_ih.astype(np.float64), w_hh.astype(np.float64), precision="bfloat16")
    with pytest.raises(ValueError, match="reset_after=False"):
        lstmfast.pack_weights("gru", w_ih[:15], w_hh[:15], reset_after=False, precision="bfloat16")


def test_packed_calls_refuse_what_does_not_fit(make_case):
    args, packed = lstm_case(make_case)
    own = {**args, "w_ih": packed.w_ih, "w_hh": packed.w_hh}
    with pytest.raises(ValueError, match="own w_ih and w_hh"):
        lstmfast.lstm_forward(**args, packed=packed)  # equal arrays, but not its own
    with pytest.raises(ValueError, match="own w_ih and w_hh"):
        lstmfast.lstm_forward(**{**own, "w_hh": packed.w_hh.copy()}, packed=packed)
    with pytest.raises(ValueError, match="inference"):
        lstmfast.lstm_forward(**own, packed=packed, training=True)
    with pytest.raises(TypeError, match="PackedWeights"):
        lstmfast.lstm_forward(**own, packed="yes")
    with pytest.raises(TypeError, match="PackedWeights"):
        _core.lstm_forward(own["x"], packed.w_ih, packed.w_hh, None, None, None, None, False, packed=object())
    gru = lstmfast.pack_weights("gru", args["w_ih"][:15], args["w_hh"][:15])
    x = args["x"]
    with pytest.raises(ValueError, match="shape"):  # another cell's weights never have this cell's shapes
        _core.lstm_forward(x, gru.w_ih, gru.w_hh, None, None, None, None, False, packed=gru)
    with pytest.raises(ValueError, match="reset_after"):
        lstmfast.gru_forward(x, gru.w_ih, gru.w_hh, None, None, reset_after=False, packed=gru)
    wide = lstmfast.pack_weights("lstm", args["w_ih"].astype(np.float64), args["w_hh"].astype(np.float64))
    with pytest.raises(TypeError):
        _core.lstm_forward(x, wide.w_ih, wide.w_hh, None, None, None, None, False, packed=wide)
    if _core.usable_isas() != [_core.isa()] and len(_core.usable_isas()) > 1:
        previous = _core.isa()
        other = next(i for i in _core.usable_isas() if i != previous)
        _core.set_isa(other)
        try:
            with pytest.raises(ValueError, match="pack again"):
                lstmfast.lstm_forward(**own, packed=packed)
        finally:
            _core.set_isa(previous)


def test_packed_precision_must_match_where_bfloat16_kernels_run(make_case):
    args, packed = lstm_case(make_case, H=16)
    bf16 = lstmfast.pack_weights("lstm", args["w_ih"], args["w_hh"], precision="bfloat16")
    own = {**args, "w_ih": packed.w_ih, "w_hh": packed.w_hh}
    own_bf16 = {**args, "w_ih": bf16.w_ih, "w_hh": bf16.w_hh}
    if not bfloat16_runs():
        pytest.skip("no bfloat16 kernels here: both layouts are float32's")
    with pytest.raises(ValueError, match="precision"):
        lstmfast.lstm_forward(**own, packed=packed, precision="bfloat16")
    with pytest.raises(ValueError, match="precision"):
        lstmfast.lstm_forward(**own_bf16, packed=bf16)


def test_packed_weights_are_a_private_read_only_snapshot(make_case):
    args, packed = lstm_case(make_case)
    copies = {k: v.copy() for k, v in args.items()}
    own = {**args, "w_ih": packed.w_ih, "w_hh": packed.w_hh}
    before = lstmfast.lstm_forward(**own, packed=packed)[:3]
    for k in args:  # pack_weights left its inputs alone
        np.testing.assert_array_equal(args[k], copies[k])
    args["w_hh"][:] = 0  # the caller's arrays are not the packed ones
    args["w_ih"][:] = 0
    after = lstmfast.lstm_forward(**own, packed=packed)[:3]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    for view in (packed.w_ih, packed.w_hh):
        assert not view.flags.writeable
        with pytest.raises(ValueError):
            view.flags.writeable = True
        with pytest.raises(ValueError):
            view[0, 0] = 1.0
    with pytest.raises(TypeError, match="pickle"):
        pickle.dumps(packed)
    with pytest.raises(TypeError):
        _core.PackedWeights()
    with pytest.raises(TypeError):  # an instance without panels, by the back door
        _core.PackedWeights.__new__(_core.PackedWeights)

    class Handmade(_core.PackedWeights):
        pass

    with pytest.raises(TypeError):
        Handmade()
    assert packed.isa == _core.isa() and packed.precision is None
    assert packed.nbytes > packed.w_ih.nbytes + packed.w_hh.nbytes
    assert "lstm_forward" in repr(packed)


# -- prepared layers and cells ---------------------------------------------------------------


LAYERS = [
    (lstmfast.LSTM, {}),
    (lstmfast.LSTM, {"num_layers": 2, "bidirectional": True}),
    (lstmfast.LSTM, {"peepholes": True, "clip": 2.0, "batch_first": True}),
    (lstmfast.GRU, {"num_layers": 2}),
    (lstmfast.GRU, {"reset_after": False, "go_backwards": True}),
    (lstmfast.RNN, {"nonlinearity": "relu", "bidirectional": True}),
]


@pytest.mark.parametrize("cls,options", LAYERS, ids=[f"{c.__name__}-{'+'.join(o)}" for c, o in LAYERS])
def test_prepared_layer_equals_the_layer(isa, cls, options):
    layer = cls(6, 20, seed=4, **options)
    fast = layer.prepared()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 6)).astype(np.float32)
    if layer.batch_first:
        x = np.ascontiguousarray(x.swapaxes(0, 1))
    lengths = np.array([5, 0, 2])
    for kw in ({}, {"lengths": lengths}):
        y, state = layer(x, **kw)
        y_fast, state_fast = fast(x, **kw)
        np.testing.assert_array_equal(y_fast, y)
        for a, b in zip(np.atleast_1d(state_fast), np.atleast_1d(state)):
            np.testing.assert_array_equal(a, b)
    assert "prepared" in repr(fast) and "prepared" not in repr(layer)


def test_prepared_layer_is_a_snapshot_for_inference_only():
    layer = lstmfast.LSTM(4, 8, seed=1)
    fast = layer.prepared()
    x = np.random.default_rng(1).standard_normal((3, 2, 4)).astype(np.float32)
    y, _ = fast(x)
    for p in layer.parameters().values():  # training the original leaves the copy alone
        p += 0.5
    np.testing.assert_array_equal(fast(x)[0], y)
    assert not np.array_equal(layer(x)[0], y)
    with pytest.raises(ValueError, match="prepared layer is for inference"):
        fast.forward(x, training=True)
    with pytest.raises(ValueError, match="read-only"):
        Adam().step(fast.parameters(), {k: np.zeros_like(v) for k, v in fast.parameters().items()})
    with pytest.raises(ValueError, match="prepared"):
        fast.load_state_dict(layer.state_dict())
    with pytest.raises(ValueError, match="training"):
        lstmfast.LSTMCell(4, 8).prepared().forward(x[0])


def test_prepared_layer_pickles_and_repacks_for_the_active_kernels(isa):
    layer = lstmfast.GRU(5, 12, seed=2, num_layers=2)
    x = np.random.default_rng(2).standard_normal((4, 3, 5)).astype(np.float32)
    fast = pickle.loads(pickle.dumps(layer.prepared()))
    np.testing.assert_array_equal(fast(x)[0], layer(x)[0])
    assert "prepared" in repr(fast)
    assert not any(p.flags.writeable for p in fast.parameters().values())  # still a read-only snapshot
    assert all(p.flags.writeable for p in pickle.loads(pickle.dumps(layer)).parameters().values())
    previous = _core.isa()
    for other in _core.usable_isas():  # packed again for each instruction set in turn
        _core.set_isa(other)
        try:
            np.testing.assert_array_equal(fast(x)[0], layer(x)[0])
        finally:
            _core.set_isa(previous)


def test_prepared_stateful_layer_steps_like_the_layer():
    layer = lstmfast.LSTM(3, 40, seed=5, stateful=True)
    fast = layer.prepared()
    rng = np.random.default_rng(3)
    for _ in range(4):
        x_t = rng.standard_normal((2, 3)).astype(np.float32)
        y, _ = layer.step(x_t)
        y_fast, _ = fast.step(x_t)
        assert rel_err(y_fast, y) <= 1e-5  # one step: the rows' sums against the panels' (see the module)


@pytest.mark.parametrize("cls", [lstmfast.LSTMCell, lstmfast.GRUCell, lstmfast.RNNCell])
@pytest.mark.parametrize("B,H", [(1, 32), (16, 128), (2, 300)])
def test_prepared_cell_matches_the_reference(isa, cls, B, H):
    cell = cls(16, H, dtype=np.float64, seed=B)
    fast = cell.prepared()
    rng = np.random.default_rng(4)
    x = rng.standard_normal((B, 16))
    state = (rng.standard_normal((B, H)), rng.standard_normal((B, H))) if cls is lstmfast.LSTMCell else None
    got = fast(x, state)
    kind = cls.__name__[:-4].lower()
    p = cell.parameters()
    extra = {"nonlinearity": "tanh"} if kind == "rnn" else {}
    initial = dict(zip(("h0", "c0"), state)) if state is not None else {}
    want = getattr(ref, kind + "_forward")(
        x[None], p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"], **initial, **extra
    )[1:-1]
    for a, b in zip(got if isinstance(got, tuple) else (got,), want):
        assert rel_err(a, b) <= RTOL[np.float64]


def test_prepared_bfloat16_cell_equals_a_bfloat16_layer():
    cell = lstmfast.LSTMCell(16, 64, seed=3)
    fast = cell.prepared(precision="bfloat16")
    layer = lstmfast.LSTM(16, 64, precision="bfloat16")
    layer.load_state_dict({k + "_l0": v for k, v in cell.parameters().items()})
    x = np.random.default_rng(5).standard_normal((2, 4, 16)).astype(np.float32)
    h, c = None, None
    ys = []
    for t in range(2):
        h, c = fast(x[t], None if h is None else (h, c))
        ys.append(h)
    y, _ = layer(x)  # a bfloat16 call packs its own: the same kernels and layout
    if bfloat16_runs():
        np.testing.assert_array_equal(np.stack(ys), y)
    else:
        assert rel_err(np.stack(ys), y) <= 1e-5
    with pytest.raises(ValueError, match="float32"):
        lstmfast.LSTMCell(4, 4, dtype=np.float64).prepared(precision="bfloat16")
    with pytest.raises(ValueError, match="reset_after"):
        lstmfast.GRUCell(4, 4, reset_after=False).prepared(precision="bfloat16")


_INHERITED: dict = {}


def _forward_in_child(x: np.ndarray) -> np.ndarray:
    return _INHERITED["layer"](x)[0]


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_prepared_layer_runs_in_a_forked_child():
    # The child inherits the packed panels (and the pointers into them) by fork.
    layer = lstmfast.LSTM(4, 24, seed=6)
    _INHERITED["layer"] = layer.prepared()
    x = np.random.default_rng(6).standard_normal((3, 2, 4)).astype(np.float32)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        y = pool.apply(_forward_in_child, (x,))
    np.testing.assert_array_equal(y, layer(x)[0])
