"""The C++ kernels' options from ONNX against the NumPy reference: LSTM peepholes,
input_forget and clip, the GRU with the reset before the product (and clip), the RNN's
clip, sequences of length 0; forward and every gradient, on every instruction set
this CPU supports, float64 and float32, one and two threads.

Tolerances are tests/test_core.py's, for the same reasons (relative to the largest
magnitude of the reference array): float64 1e-10, float32 against the float64
reference 2e-5. The clip is chosen between the reference's pre-activations, at least
CLIP_MARGIN from each (relative): the float32 path computes them to ~1e-6 (outputs
measured to 1.6e-6), so no pre-activation lands on the other side of the clip than
in the reference (where the gradient jumps between 0 and the slope).
"""

from __future__ import annotations

import numpy as np
import pytest

import lstmfast
from lstmfast import reference as ref
from lstmfast.app import speed
from test_core import RTOL, rel_err

CLIP_MARGIN = 1e-4
SHAPES = [  # (T, B, I, H)
    (1, 1, 1, 1),
    (5, 3, 5, 37),  # H not a multiple of any vector width
    (4, 9, 3, 16),  # B above the register tile height
    (10, 16, 32, 128),  # big enough for two threads
    (3, 7, 4, 300),  # the recurrent products in K chunks (AVX-512)
]
OPTIONS = {  # cell -> the option sets tested
    "lstm": [
        {"peepholes": True},
        {"input_forget": True},
        {"clip": True},
        {"peepholes": True, "input_forget": True, "clip": True},
    ],
    "gru": [{"reset_after": False}, {"clip": True}, {"reset_after": False, "clip": True}],
    "rnn": [{"clip": True}],
}
CASES = [(cell, options) for cell, sets in OPTIONS.items() for options in sets]


def problem(cell: str, T: int, B: int, I: int, H: int, seed: int) -> dict:
    """float64 arguments of ``{cell}_forward`` (the benchmarks' problems, whose dy is not used)."""
    return speed.problem(cell, (T, B, I, H), np.float64, seed)[0]


def choose_clip(cell: str, inputs: dict, options: dict) -> float:
    """The middle of one of the widest gaps (relative to its place) between the
    reference's pre-activation magnitudes, with 0.2 % (and one) to half of them
    above it, checked with that clip applied (the trajectory depends on the clip)."""
    forward = getattr(ref, cell + "_forward")

    def magnitudes(clip: float) -> np.ndarray:
        z = np.abs(forward(**inputs, **options, clip=clip, training=True)[-1].zs)
        return np.sort(z[z != 0])

    z = magnitudes(1e30)
    above = len(z) - 1 - np.arange(len(z) - 1)  # values above the gap after z[k]
    middles = (z[1:] + z[:-1]) / 2
    width = np.where((above >= max(1, 0.002 * len(z))) & (above <= 0.5 * len(z)), np.diff(z) / middles, -1)
    for k in np.argsort(width)[::-1][:30]:
        clip = float(middles[k])
        if width[k] > 0 and np.min(np.abs(magnitudes(clip) - clip)) > CLIP_MARGIN * clip:
            return clip
    if len(z) == 1:
        return float(z[0] / 2)
    raise AssertionError("no clip away from the pre-activations")  # pragma: no cover


def run(cell: str, inputs: dict, options: dict, dtype, rng: np.random.Generator, **kw):
    """Forward and backward of the fast path in ``dtype`` and of the reference in
    float64 on the same (dtype-rounded) inputs; returns both, outputs then gradients."""
    fast_in = {k: None if v is None else np.asarray(v, dtype) for k, v in inputs.items()}
    ref_in = {k: None if v is None else v.astype(np.float64) for k, v in fast_in.items()}
    fast_opt = {k: np.asarray(v, dtype) if isinstance(v, np.ndarray) else v for k, v in options.items()}
    ref_opt = {k: v.astype(np.float64) if isinstance(v, np.ndarray) else v for k, v in fast_opt.items()}
    before = {k: v.copy() for k, v in {**fast_in, **fast_opt}.items() if isinstance(v, np.ndarray)}
    fwd, bwd = getattr(lstmfast, cell + "_forward"), getattr(lstmfast, cell + "_backward")
    rfwd, rbwd = getattr(ref, cell + "_forward"), getattr(ref, cell + "_backward")
    out = fwd(**fast_in, **fast_opt, training=True, **kw)
    rout = rfwd(**ref_in, **ref_opt, training=True, **kw)
    T, B, _ = inputs["x"].shape
    H = inputs["w_hh"].shape[1]
    seeds = [rng.standard_normal((T, B, H))] + [rng.standard_normal((B, H)) for _ in range(len(out) - 2)]
    grads = bwd(out[-1], *[s.astype(dtype) for s in seeds])
    rgrads = rbwd(rout[-1], *[s.astype(dtype).astype(np.float64) for s in seeds])
    for name, value in before.items():  # inputs untouched
        np.testing.assert_array_equal({**fast_in, **fast_opt}[name], value, err_msg=name)
    return out[:-1], rout[:-1], grads, rgrads


def check(out, rout, grads, rgrads, dtype) -> None:
    tol = RTOL[dtype]
    for name, a, b in zip(("y", "h_n", "c_n"), out, rout):
        assert a.dtype == dtype and rel_err(a, b) <= tol, name
    assert grads.keys() == rgrads.keys()
    for name in grads:
        if rgrads[name] is None:
            assert grads[name] is None, name
        else:
            assert grads[name].dtype == dtype and rel_err(grads[name], rgrads[name]) <= tol, name


def with_values(cell: str, inputs: dict, options: dict, rng: np.random.Generator, kw: dict) -> dict:
    """``options`` with the values: peepholes drawn, the clip chosen."""
    H = inputs["w_hh"].shape[1]
    given = {k: v for k, v in options.items() if k not in ("peepholes", "clip")}
    if options.get("peepholes"):
        given["peepholes"] = rng.uniform(-1, 1, 3 * H)
    if options.get("clip"):
        given["clip"] = choose_clip(cell, inputs, {**given, **kw})
    return given


@pytest.mark.parametrize("cell,options", CASES, ids=[f"{c}-{'+'.join(o)}" for c, o in CASES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("T,B,I,H", SHAPES)
def test_options_match_reference(isa, cell, options, dtype, T, B, I, H):
    rng = np.random.default_rng([T, B, I, H, len(cell), len(options)])
    inputs = problem(cell, T, B, I, H, seed=T * 1000 + H)
    given = with_values(cell, inputs, options, rng, {})
    check(*run(cell, inputs, given, dtype, rng), dtype)


@pytest.mark.parametrize("cell,options", CASES, ids=[f"{c}-{'+'.join(o)}" for c, o in CASES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_options_with_lengths_empty_sequences_and_threads(isa, threads, cell, options, dtype, reverse, nthreads):
    """Ragged batches with sequences of length 0, both directions, 1 and 2 threads
    (the shape is big enough to split the GRU's two products across threads)."""
    threads(nthreads)
    T, B, I, H = 10, 16, 32, 128
    rng = np.random.default_rng([len(cell), len(options), reverse, nthreads])
    inputs = problem(cell, T, B, I, H, seed=5)
    lengths = rng.integers(0, T + 1, B)
    lengths[:3] = (0, T, 1)
    kw = {"lengths": lengths, "reverse": reverse}
    given = with_values(cell, inputs, options, rng, kw)
    check(*run(cell, inputs, given, dtype, rng, **kw), dtype)


@pytest.mark.parametrize("cell", sorted(OPTIONS))
@pytest.mark.parametrize("reverse", [False, True])
def test_length_zero_on_the_fast_path(isa, cell, reverse):
    """A sequence of length 0: y is 0, the final state is the initial state and its
    gradient reaches the initial state unchanged, exactly; the others are unaffected
    (equal to the same batch without it)."""
    T, B, I, H = 6, 5, 3, 9
    inputs = problem(cell, T, B, I, H, seed=2)
    fwd, bwd = getattr(lstmfast, cell + "_forward"), getattr(lstmfast, cell + "_backward")
    lengths = np.array([0, 6, 3, 0, 1])
    out = fwd(**inputs, lengths=lengths, reverse=reverse, training=True)
    y, finals = out[0], out[1:-1]
    assert not np.any(y[:, [0, 3]])
    starts = [inputs["h0"]] + ([inputs["c0"]] if cell == "lstm" else [])
    for final, start in zip(finals, starts):
        np.testing.assert_array_equal(final[[0, 3]], start[[0, 3]])
    rng = np.random.default_rng(0)
    dfinal = [rng.standard_normal((B, H)) for _ in finals]
    grads = bwd(out[-1], rng.standard_normal((T, B, H)), *dfinal)
    for part, d in zip(("h0", "c0"), dfinal):
        np.testing.assert_array_equal(grads[part][[0, 3]], d[[0, 3]])
    assert not np.any(grads["x"][:, [0, 3]])
    keep = [1, 2, 4]
    others = {k: (v[:, keep] if k == "x" else v[keep] if k in ("h0", "c0") else v) for k, v in inputs.items()}
    alone = fwd(**others, lengths=lengths[keep], reverse=reverse)
    np.testing.assert_allclose(y[:, keep], alone[0], rtol=0, atol=1e-13)


def test_options_differ_from_plain_on_the_fast_path():
    """Each option changes the result (it is not dropped on the way to the kernels)."""
    inputs = problem("lstm", 4, 3, 2, 5, seed=1)
    plain = lstmfast.lstm_forward(**inputs)[0]
    for options in ({"clip": 0.1}, {"input_forget": True}, {"peepholes": np.full(15, 0.5)}):
        assert np.abs(lstmfast.lstm_forward(**inputs, **options)[0] - plain).max() > 1e-3, options
    g = problem("gru", 4, 3, 2, 5, seed=1)
    assert np.abs(lstmfast.gru_forward(**g, reset_after=False)[0] - lstmfast.gru_forward(**g)[0]).max() > 1e-3
    r = problem("rnn", 4, 3, 2, 5, seed=1)
    assert np.abs(lstmfast.rnn_forward(**r, clip=0.05)[0] - lstmfast.rnn_forward(**r)[0]).max() > 1e-3


def test_tapes_record_the_options():
    inputs = problem("lstm", 3, 2, 2, 4, seed=3)
    p = np.arange(12.0)
    *_, tape = lstmfast.lstm_forward(**inputs, peepholes=p, input_forget=True, clip=2.5, training=True)
    assert tape.clip == 2.5 and tape.input_forget is True
    np.testing.assert_array_equal(tape.peepholes, p)
    p[:] = 0  # the tape keeps its own copy
    assert tape.peepholes[1] == 1 and not tape.peepholes.flags.writeable
    *_, tape = lstmfast.gru_forward(**problem("gru", 3, 2, 2, 4, seed=3), reset_after=False, training=True)
    assert tape.reset_after is False and tape.clip is None


# Every option set of every cell, for the kernels' own finite differences.
FD_CASES = [
    *(("lstm", o) for o in OPTIONS["lstm"]),
    ("gru", {"reset_after": False}),
    ("gru", {"clip": True}),
    ("gru", {"reset_after": False, "clip": True}),
    ("rnn", {"clip": True}),
    ("rnn", {"clip": True, "nonlinearity": "relu"}),
]


@pytest.mark.parametrize("cell,options", FD_CASES, ids=[f"{c}-{'+'.join(o)}" for c, o in FD_CASES])
@pytest.mark.parametrize("reverse", [False, True])
def test_kernel_gradients_of_every_option_match_finite_differences(isa, cell, options, reverse):
    """The kernels' own gradients (float64, this ISA) against centred differences of
    the kernels' own forward over every element of every array, peepholes included,
    in a ragged batch with a sequence of length 0: test_reference_onnx_options's
    rule and its clip away from the kinks (chosen with the reference, whose
    pre-activations the float64 kernels match to ~1e-15)."""
    from test_reference import FD_TOL, fd_error, numeric_grads
    from test_reference_onnx_options import INPUTS, draw_with_clip

    T, B, I, H = 4, 3, 3, 5
    rng = np.random.default_rng([len(cell), *map(len, options), reverse])
    given: dict = {"reverse": reverse, "lengths": np.array([0, T, 2])}
    if options.get("peepholes"):
        given["peepholes"] = 0.8 * rng.standard_normal(3 * H)
    given.update({k: v for k, v in options.items() if k not in ("peepholes", "clip")})
    if options.get("clip"):
        inputs, given = draw_with_clip(cell, rng, (T, B, I, H), given)
    else:
        inputs = INPUTS[cell](rng, T, B, I, H)
    fwd, bwd = getattr(lstmfast, cell + "_forward"), getattr(lstmfast, cell + "_backward")
    arrays = {**inputs, **({"peepholes": given.pop("peepholes")} if "peepholes" in given else {})}
    out = fwd(**arrays, **given, training=True)
    seeds = [rng.standard_normal(o.shape) for o in out[:-1]]

    def loss(p: dict) -> float:
        return float(sum(np.sum(o * s) for o, s in zip(fwd(**p, **given)[:-1], seeds)))

    ana = bwd(out[-1], *seeds)
    num = numeric_grads(loss, arrays)
    assert set(ana) == set(num)
    assert fd_error(num, ana) < FD_TOL
    assert np.abs(ana["h0"][0] - seeds[1][0]).max() == 0  # length 0: dh_n reaches h0 unchanged
