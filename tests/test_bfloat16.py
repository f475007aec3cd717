"""precision="bfloat16": the LSTM's inference with bfloat16 products.

The kernels (AVX512_BF16, where the CPU has it) are checked against
``lstmfast.reference``, which rounds the same operands with
:func:`~lstmfast.reference.bfloat16_round` and sums in float32; the rounding
itself is checked against values worked out by hand and its defining
properties. Elsewhere (other ISAs, CPUs without AVX512_BF16) the float32
kernels run, bit for bit what precision=None gives.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lstmfast
import lstmfast.config
import lstmfast.layers
from lstmfast import _core, cells
from lstmfast import functional as F
from lstmfast import reference as R

# Agreement of the kernels with the reference, both on bfloat16-rounded operands:
# the products are exact in float32, so the two differ only by the order of
# float32 sums (K <= 64 terms of size <= 1 here: a few float32 ulps, ~1e-6) and by
# what that does downstream, including a rounded h<t> that falls on the other side
# of a bfloat16 tie (rare; deterministic for a given seed). 2e-5 is 20x the sum-order
# noise and 30x below the differences bfloat16 itself makes (~1e-3, asserted below).
AGREE = 2e-5


def bits(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, np.float32).view(np.uint32)


# -- the rounding -----------------------------------------------------------------


def test_bfloat16_round_by_hand():
    # bfloat16 has 7 fraction bits: its ulp at 1 is 2**-7.
    cases = {
        1.0: 1.0,
        1 + 2**-8: 1.0,  # halfway between 1 and 1 + 2**-7: to even (1)
        1 + 3 * 2**-8: 1 + 2**-6,  # halfway between 1 + 2**-7 and 1 + 2**-6: to even (the latter)
        1 + 2**-8 + 2**-20: 1 + 2**-7,  # just above halfway: up
        -(1 + 2**-8 + 2**-20): -(1 + 2**-7),
        3.0: 3.0,
        np.inf: np.inf,
        -np.inf: -np.inf,
        np.finfo(np.float32).max: np.inf,  # rounds past bfloat16's largest finite value
        1e-40: 0.0,  # a float32 denormal: zero, as VCVTNEPS2BF16 makes it
        2.0**-126: 2.0**-126,  # the smallest normal is a bfloat16
    }
    a = np.array(list(cases), np.float32)
    assert np.array_equal(R.bfloat16_round(a), np.array(list(cases.values()), np.float32))
    negative_denormal = R.bfloat16_round(np.array([-1e-40], np.float32))
    assert bits(negative_denormal)[0] == 0x80000000  # -0.0
    # A NaN whose payload is only in the low 16 bits: cut off, it would be inf.
    nans = np.array([0x7F800001, 0xFFC00000], np.uint32).view(np.float32)
    assert np.isnan(R.bfloat16_round(nans)).all()


@settings(max_examples=300, deadline=None)
@given(st.floats(width=32, allow_nan=False, allow_infinity=False, min_value=-(2.0**127), max_value=2.0**127))
def test_bfloat16_round_is_nearest_even(value):
    a = np.array([value], np.float32)
    (r,) = R.bfloat16_round(a)
    if abs(value) < 2.0**-126:
        assert r == 0.0
        return
    assert bits(r) & 0xFFFF == 0  # a bfloat16
    # The two bfloat16 neighbours of a (truncated, and one ulp further out).
    low = (bits(a) & np.uint32(0xFFFF0000)).view(np.float32)[0]
    high = ((bits(a) & np.uint32(0xFFFF0000)) + np.uint32(0x10000)).view(np.float32)[0]
    d_low, d_high = abs(float(value) - float(low)), abs(float(high) - float(value))
    if d_low < d_high:
        assert r == low
    elif d_high < d_low:
        assert r == high
    else:  # a tie: the one whose last bit is 0
        assert bits(r) & 0x10000 == 0


# -- the kernels ----------------------------------------------------------------------

CELLS = ("lstm", "gru", "rnn")


def forward(module, cell):
    return getattr(module, f"{cell}_forward")


def problem(rng, cell, T, B, I, H, *, bias=True, state=True):
    """Arguments of ``{cell}_forward`` by name, PyTorch-like scales, float32."""
    G = cells.CELLS[cell].gates * H

    def uniform(*shape):
        return (rng.uniform(-1, 1, shape) / np.sqrt(H)).astype(np.float32)

    case = {"x": rng.standard_normal((T, B, I)).astype(np.float32), "w_ih": uniform(G, I), "w_hh": uniform(G, H)}
    case["b_ih"], case["b_hh"] = (uniform(G), uniform(G)) if bias else (None, None)
    if state:
        for part in cells.CELLS[cell].states:
            case[part + "0"] = (0.5 * rng.standard_normal((B, H))).astype(np.float32)
    return case


SHAPES = [
    (1, 1, 1, 1),
    (5, 3, 7, 9),  # odd I and H: a zero pad in the last pair
    (4, 7, 16, 17),  # a tail of one row after a 6-row tile
    (3, 13, 33, 40),  # H not a multiple of the vector width
    (6, 2, 8, 64),
    (2, 9, 12, 100),  # the RNN's tiles of several vectors of units
    (1, 8, 12, 32),  # one step
]

# Each cell's options, besides lengths and reverse.
OPTIONS = {
    "lstm": [{}, {"peepholes": True, "clip": 1.5}, {"input_forget": True}],
    "gru": [{}, {"clip": 1.5}],
    "rnn": [{}, {"nonlinearity": "relu", "clip": 1.5}],
}
CASES = [
    (cell, dict(opts, **steps))
    for cell in CELLS
    for opts in OPTIONS[cell]
    for steps in ({}, {"lengths": "mixed"}, {"lengths": "mixed", "reverse": True})
]


def options_for(rng, opts, T, B, H):
    out = dict(opts)
    if out.get("lengths") == "mixed":
        out["lengths"] = rng.integers(0, T + 1, B)
    if out.get("peepholes"):
        out["peepholes"] = rng.uniform(-0.5, 0.5, 3 * H).astype(np.float32)
    return out


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("cell", "opts"), CASES)
def test_kernels_match_the_reference(isa, shape, cell, opts):
    rng = np.random.default_rng(sum(shape))
    case = problem(rng, cell, *shape)
    kw = options_for(rng, opts, shape[0], shape[1], shape[3])
    fast = forward(F, cell)(**case, precision="bfloat16", **kw)
    if _core.bfloat16_products():
        expected = forward(R, cell)(**case, precision="bfloat16", **kw)
        for got, want in zip(fast[:-1], expected[:-1]):
            np.testing.assert_allclose(got, want, rtol=0, atol=AGREE)
    else:  # this ISA or CPU has none: the float32 kernels, bit for bit
        plain = forward(F, cell)(**case, **kw)
        for got, want in zip(fast[:-1], plain[:-1]):
            assert np.array_equal(got, want)
    assert fast[-1] is None


@pytest.mark.parametrize("cell", CELLS)
def test_rounding_happens_and_its_error_is_small(isa, cell):
    """The error bfloat16 makes against float64, on a PyTorch-initialised model
    with unit-normal inputs (S3's sizes, 20 steps): measured 2e-3 to 4e-3 in h
    (|h| < 1); bounded here by 1e-2. With bfloat16 products it must also differ
    from float32 by far more than float32's own sum-order noise: the rounding
    really happened."""
    if not _core.bfloat16_products():
        pytest.skip(f"{isa}: precision='bfloat16' runs the float32 kernels here (tested above)")
    rng = np.random.default_rng(3)
    case = problem(rng, cell, 20, 64, 256, 256, state=False)
    y16 = forward(F, cell)(**case, precision="bfloat16")[0]
    y32 = forward(F, cell)(**case)[0]
    exact = forward(R, cell)(**{k: None if v is None else v.astype(np.float64) for k, v in case.items()})[0]
    error16, error32 = np.abs(y16 - exact).max(), np.abs(y32 - exact).max()
    assert error16 < 1e-2
    assert error16 > 100 * error32


@pytest.mark.parametrize("cell", CELLS)
def test_thread_count_does_not_change_results(isa, threads, cell):
    if not _core.bfloat16_products():
        pytest.skip(f"{isa}: no bfloat16 products here")
    case = problem(np.random.default_rng(5), cell, 30, 24, 40, 96)
    threads(1)
    one = forward(F, cell)(**case, precision="bfloat16")
    threads(2)
    two = forward(F, cell)(**case, precision="bfloat16")
    for a, b in zip(one[:-1], two[:-1]):
        assert np.array_equal(a, b)


def test_nan_and_inf_propagate_as_in_the_reference(isa):
    if not _core.bfloat16_products():
        pytest.skip(f"{isa}: no bfloat16 products here")
    case = problem(np.random.default_rng(6), "lstm", 4, 5, 6, 16)
    case["x"][1, 2, 3] = np.nan
    case["x"][2, 4, 0] = np.inf
    y = F.lstm_forward(**case, precision="bfloat16")[0]
    want = R.lstm_forward(**case, precision="bfloat16")[0]
    assert np.array_equal(np.isnan(y), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(y[finite], want[finite], rtol=0, atol=AGREE)


@pytest.mark.parametrize("cell", CELLS)
def test_inputs_are_not_modified(cell):
    case = problem(np.random.default_rng(7), cell, 5, 4, 9, 11)
    before = {k: v.copy() for k, v in case.items()}
    forward(F, cell)(**case, precision="bfloat16")
    for k, v in case.items():
        assert np.array_equal(v, before[k]), k


# -- the API ------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["bf16", "float16", "BFLOAT16", 1, b"bfloat16", np.float32])
@pytest.mark.parametrize("cell", CELLS)
def test_unknown_precision_is_refused(bad, cell):
    case = problem(np.random.default_rng(0), cell, 2, 2, 3, 4)
    for module in (F, R):
        with pytest.raises(ValueError, match="precision"):
            forward(module, cell)(**case, precision=bad)
    with pytest.raises(ValueError, match="precision"):
        lstmfast.layers.LAYERS[cell](3, 4, precision=bad)


@pytest.mark.parametrize("module", [F, R])
@pytest.mark.parametrize("cell", CELLS)
def test_training_and_float64_are_refused(module, cell):
    case = problem(np.random.default_rng(0), cell, 2, 2, 3, 4)
    with pytest.raises(ValueError, match="inference"):
        forward(module, cell)(**case, precision="bfloat16", training=True)
    case64 = {k: v.astype(np.float64) for k, v in case.items()}
    with pytest.raises(TypeError, match="float32"):
        forward(module, cell)(**case64, precision="bfloat16")


@pytest.mark.parametrize("module", [F, R])
def test_the_gru_with_the_reset_gate_before_its_product_is_refused(module):
    case = problem(np.random.default_rng(0), "gru", 2, 2, 3, 4)
    with pytest.raises(ValueError, match="reset_after=False has no bfloat16 kernel"):
        module.gru_forward(**case, reset_after=False, precision="bfloat16")
    with pytest.raises(ValueError, match="reset_after=False has no bfloat16 kernel"):
        lstmfast.GRU(3, 4, reset_after=False, precision="bfloat16")
    with pytest.raises(ValueError, match="float32"):
        lstmfast.LSTM(3, 4, dtype=np.float64, precision="bfloat16")


@pytest.mark.parametrize("cell", CELLS)
def test_layer_infers_in_bfloat16_and_trains_in_float32(cell):
    Layer = lstmfast.layers.LAYERS[cell]
    layer = Layer(6, 20, seed=1, num_layers=2, precision="bfloat16")
    plain = Layer(6, 20, seed=1, num_layers=2)
    x = np.random.default_rng(2).standard_normal((7, 3, 6)).astype(np.float32)
    y, _ = layer(x)
    # Layer by layer, the functional bfloat16 calls.
    p = layer.parameters()
    h = x
    for k in range(2):
        names = [f"{n}_l{k}" for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        h = forward(F, cell)(h, *(p[n] for n in names), precision="bfloat16")[0]
    assert np.array_equal(y, h)
    assert not np.array_equal(y, plain(x)[0]) or not _core.bfloat16_products()
    # Training ignores it: the same numbers as the float32 layer, and a tape.
    y_train, _, tape = layer.forward(x, training=True)
    y_plain, _, _ = plain.forward(x, training=True)
    assert tape is not None and np.array_equal(y_train, y_plain)
    # One step at a time is inference too: as the layer on one step (the float32
    # fallback's one step reads the weights row by row, a different sum order
    # than the sequence's packed panels; the bfloat16 kernels always pack).
    y0, _ = layer.step(x[0])
    assert np.array_equal(y0, layer(x[:1])[0][0])
    if _core.bfloat16_products():
        assert np.array_equal(y0, y[0]) and not np.array_equal(y0, plain.step(x[0])[0])
    assert "precision='bfloat16'" in repr(layer)
    # It survives pickling.
    again = pickle.loads(pickle.dumps(layer))
    assert again.precision == "bfloat16" and np.array_equal(again(x)[0], y)


def cpu_flags() -> set[str] | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def test_kernel_config_reports_it(isa):
    """Only the avx512 kernels have bfloat16 products, and only on CPUs with
    AVX512_BF16 (as the OS reports the CPU's flags, read here independently)."""
    config = lstmfast.config.kernel_config()
    assert config["isa"] == isa
    flags = cpu_flags()
    if isa != "avx512":
        assert config["bfloat16_products"] is False
    elif flags is not None:
        assert config["bfloat16_products"] is ("avx512_bf16" in flags)
