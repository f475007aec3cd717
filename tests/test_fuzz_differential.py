"""Differential fuzzing: hypothesis draws whole problems (cell, dtype, sizes, bias
or not, initial state or not, lengths, direction, input scale, strided inputs) and
the C++ fast path must agree with the NumPy reference on the outputs and every
gradient, to the tolerances of tests/test_core.py (the same reasoning: float64
1e-10, float32 against the float64 reference 2e-5), relative to the largest
magnitude of each reference array, or to 1 if that is smaller.

Why the floor of 1: saturated units make some arrays tiny, and their errors are
absolute, not relative. The float32 sigmoid is accurate to 2.5e-7 absolute
(tests/test_activations.py), so a saturated gate (f = 5e-6 at inputs of scale 4)
carries up to ~5 % relative error; and in both dtypes a saturated derivative
such as 1 - tanh(z)^2 ~ 2e-7, computed from a rounded output, has an absolute
error of a few ulps of 1, relative ~eps / 2e-7. An array made only of such
products (B = H = 1) then has a large relative error but an absolute one far
below the tolerance times the problem's scale, which is 1 here (standard-normal
upstream gradients, states of scale 0.5). The first runs of this test found
both: float32 dc0 = -5.2986e-06 against -5.2993e-06, float64 dx = -2.9730491e-07
against -2.97304909e-07 (relative 3e-9, absolute 1e-15).
"""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import lstmfast  # noqa: E402
from lstmfast import reference  # noqa: E402

RTOL = {np.float64: 1e-10, np.float32: 2e-5}
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


@st.composite
def problems(draw):
    cell = draw(st.sampled_from(sorted(GATES)))
    T, B = draw(st.integers(1, 7)), draw(st.integers(1, 9))
    I, H = draw(st.integers(1, 9)), draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([0.1, 1.0, 4.0]))  # 4: saturated gates
    return {
        "cell": cell,
        "dtype": draw(st.sampled_from([np.float64, np.float32])),
        "T": T,
        "B": B,
        "I": I,
        "H": H,
        "seed": seed,
        "scale": scale,
        "bias": draw(st.sampled_from(["both", "none", "ih only"])),
        "state": draw(st.booleans()),
        "lengths": draw(st.none() | st.lists(st.integers(1, T), min_size=B, max_size=B)),
        "reverse": draw(st.booleans()),
        "strided": draw(st.booleans()),
        "nonlinearity": draw(st.sampled_from(["tanh", "relu"])),
    }


def arrays(p):
    rng = np.random.default_rng(p["seed"])
    T, B, I, H, G = p["T"], p["B"], p["I"], p["H"], GATES[p["cell"]] * p["H"]
    k = p["scale"] / np.sqrt(H)
    x = rng.standard_normal((T, 2 * B if p["strided"] else B, I)) * p["scale"]
    args = {
        "x": x[:, ::2] if p["strided"] else x,  # a view with a stride of two rows
        "w_ih": rng.uniform(-k, k, (G, I)),
        "w_hh": rng.uniform(-k, k, (G, H)),
        "b_ih": None if p["bias"] == "none" else rng.uniform(-k, k, G),
        "b_hh": rng.uniform(-k, k, G) if p["bias"] == "both" else None,
    }
    if p["state"]:
        args["h0"] = 0.5 * rng.standard_normal((B, H))
        if p["cell"] == "lstm":
            args["c0"] = 0.5 * rng.standard_normal((B, H))
    seeds = [rng.standard_normal((T, B, H))] + [
        rng.standard_normal((B, H)) for _ in range(2 if p["cell"] == "lstm" else 1)
    ]
    return args, seeds


def rel_err(a, b):
    assert a.shape == b.shape
    return 0.0 if b.size == 0 else float(np.abs(a.astype(np.float64) - b).max() / max(np.abs(b).max(), 1.0))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_fast_path_equals_reference(p):
    args, seeds = arrays(p)
    dtype, tol = p["dtype"], RTOL[p["dtype"]]
    fast_in = {k: None if v is None else v.astype(dtype) for k, v in args.items()}
    ref_in = {k: None if v is None else v.astype(dtype).astype(np.float64) for k, v in args.items()}
    if p["strided"]:
        fast_in["x"] = np.zeros((p["T"], 2 * p["B"], p["I"]), dtype)[:, ::2]
        fast_in["x"][...] = args["x"].astype(dtype)
    kw = {
        "training": True,
        "reverse": p["reverse"],
        "lengths": None if p["lengths"] is None else np.array(p["lengths"]),
    }
    if p["cell"] == "rnn":
        kw["nonlinearity"] = p["nonlinearity"]
    name = p["cell"]
    before = {k: None if v is None else v.copy() for k, v in fast_in.items()}
    out = getattr(lstmfast, f"{name}_forward")(**fast_in, **kw)
    rout = getattr(reference, f"{name}_forward")(**ref_in, **kw)
    for k, v in fast_in.items():  # inputs are never modified
        assert v is None or np.array_equal(v, before[k]), k
    for label, a, b in zip(("y", "h_n", "c_n"), out[:-1], rout[:-1]):
        assert a.dtype == dtype and rel_err(a, b) <= tol, label
    grads = getattr(lstmfast, f"{name}_backward")(out[-1], *[s.astype(dtype) for s in seeds])
    rgrads = getattr(reference, f"{name}_backward")(rout[-1], *[s.astype(dtype).astype(np.float64) for s in seeds])
    assert grads.keys() == rgrads.keys()
    for key in grads:
        if rgrads[key] is None:
            assert grads[key] is None, key
        else:
            assert grads[key].dtype == dtype and rel_err(grads[key], rgrads[key]) <= tol, key
