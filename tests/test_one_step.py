"""One inference step of a few sequences (T = 1, B <= 16: streaming) takes its own
path in the kernels: the products read W_ih and W_hh row by row as stored
(kernels/row_products.h) instead of packing them, for B up to max(16, H/4). It
must give what the reference gives, on every instruction set, for every cell and
option, and at the edges of its blocks (H and I not multiples of a vector, B not
a multiple of a tile's batch rows, B at and past the limit).

Tolerances as in test_core.py (float64 1e-10; float32 against the float64
reference 2e-5, measured ~1e-6). Against the packed path (the same step as the
first of a longer call) the two differ only in the order of each dot product's
additions: float64 within 1e-13 relative.
"""

from __future__ import annotations

import numpy as np
import pytest

import lstmfast
from lstmfast import reference as ref

RTOL = {np.float64: 1e-10, np.float32: 2e-5}
B_VALUES = [1, 2, 5, 16, 17, 75, 76]  # 17: past the limit (packed) but at H = 300 (75); 76: past it
H_VALUES = [1, 3, 16, 37, 300]
CELLS = ["lstm", "lstm-options", "gru", "gru-reset-first", "rnn-tanh", "rnn-relu"]


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b).max() / max(np.abs(b).max(), 1e-300))


def case_for(make_case, cell: str, B: int, I: int, H: int, seed: int, T: int = 1) -> tuple[str, dict, dict]:
    """The function name, its arguments (float64, conftest's random_case) and keyword options."""
    rng = np.random.default_rng(seed)
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[cell.split("-")[0]]
    args = make_case(rng, T, B, I, H, gates=gates)
    kw: dict = {}
    if gates == 4:
        args["c0"] = rng.standard_normal((B, H))
    if cell == "lstm-options":
        kw = {"peepholes": rng.uniform(-1, 1, 3 * H), "clip": 1.5}
    if cell == "gru-reset-first":
        kw = {"reset_after": False}
    if cell.startswith("rnn"):
        kw = {"nonlinearity": cell[4:]}
    return cell.split("-")[0] + "_forward", args, kw


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("H", H_VALUES)
@pytest.mark.parametrize("B", B_VALUES)
def test_one_step_matches_reference(isa, B, H, cell, dtype, make_case):
    name, args, kw = case_for(make_case, cell, B, 5 if H != 300 else 70, H, seed=B * 1000 + H)
    arrays = {**args, **{k: v for k, v in kw.items() if isinstance(v, np.ndarray)}}
    flags = {k: v for k, v in kw.items() if k not in arrays}
    fast = getattr(lstmfast, name)(**{k: v.astype(dtype) for k, v in arrays.items()}, **flags)
    slow = getattr(ref, name)(**{k: v.astype(dtype).astype(np.float64) for k, v in arrays.items()}, **flags)
    for what, a, b in zip(("y", "h_n", "c_n"), fast[:-1], slow[:-1]):
        assert a.dtype == dtype
        assert rel_err(a, b) <= RTOL[dtype], what


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn-tanh"])
def test_lengths_reverse_missing_biases_and_input_forget(isa, cell, make_case):
    name, args, kw = case_for(make_case, cell, 6, 4, 20, seed=3)
    lengths = np.array([1, 0, 1, 1, 0, 1])
    variants = [
        {"lengths": lengths},
        {"lengths": lengths, "reverse": True},
        {"b_ih": None, "b_hh": None},
        {"b_ih": None},
    ]
    if cell == "lstm":
        variants.append({"input_forget": True, "clip": 0.7})
    for variant in variants:
        call = {**args, **kw, **variant}
        fast = getattr(lstmfast, name)(**call)
        slow = getattr(ref, name)(**call)
        for a, b in zip(fast[:-1], slow[:-1]):
            assert rel_err(a, b) <= RTOL[np.float64], variant
        if "lengths" in variant:  # a length-0 sequence: zero output, its state kept
            np.testing.assert_array_equal(fast[0][0, lengths == 0], 0)
            np.testing.assert_array_equal(fast[1][lengths == 0], args["h0"][lengths == 0])


def test_one_step_equals_the_first_step_of_a_longer_call(isa, make_case):
    # The first step of a T=2 call runs on packed panels; alone it reads the rows:
    # the same sums in another order.
    name, args, _ = case_for(make_case, "lstm", 4, 8, 64, seed=5, T=2)
    whole = lstmfast.lstm_forward(**args)
    first = lstmfast.lstm_forward(**{**args, "x": args["x"][:1]})
    assert rel_err(first[0][0], whole[0][0]) <= 1e-13
    assert rel_err(first[1], whole[0][0]) <= 1e-13


def test_inputs_untouched_and_training_takes_the_tape_path(isa, make_case):
    name, args, _ = case_for(make_case, "lstm", 3, 4, 8, seed=9)
    copies = {k: v.copy() for k, v in args.items()}
    y, h, c, tape = lstmfast.lstm_forward(**args, training=True)
    y2, h2, c2, _ = lstmfast.lstm_forward(**args)
    for k in args:
        np.testing.assert_array_equal(args[k], copies[k])
    assert tape is not None
    assert rel_err(y2, y) <= 1e-13 and rel_err(c2, c) <= 1e-13


@pytest.mark.parametrize("B,H", [(1, 512), (16, 300), (5, 37)])
def test_one_step_does_not_depend_on_the_thread_count(isa, threads, B, H, make_case):
    # The products are split among threads by whole blocks of weight rows.
    name, args, _ = case_for(make_case, "lstm", B, 24, H, seed=B + H)
    args = {k: v.astype(np.float32) for k, v in args.items()}
    results = []
    for n in (1, 2, 3):
        threads(n)
        results.append(lstmfast.lstm_forward(**args)[:3])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)
