"""The vectorised sigmoid and tanh of the kernels, against libm, over the whole
floating-point range, on every instruction set.

Stated maximum errors (README, "Accuracy"):

=========  ====================================  ==============================
function   float32 (rational, the fast path)     float64 (exponential forms)
=========  ====================================  ==============================
sigmoid    absolute 2.5e-7 everywhere            relative 1e-15 (4.5 ulp) for
                                                 results >= 3.4e-308 = exp(-708);
                                                 absolute 3.4e-308 below
tanh       relative 4e-7 (3.4 ulp)               relative 1e-15
=========  ====================================  ==============================

float32 is checked against float64 NumPy (itself accurate to ~1e-16, far below
the float32 errors); float64 against mpmath at 50 digits. Measured on the
grids below: float32 sigmoid 2.0e-7 absolute, tanh 3.3e-7 relative (portable;
AVX-512, whose reciprocal is the hardware estimate plus a Newton step: 1.8e-7
and 3.1e-7); float64 sigmoid 3.2e-16, tanh 3.3e-16.
"""

from __future__ import annotations

import numpy as np
import pytest

from lstmfast import _core

F32_TINY = float(np.finfo(np.float32).tiny)
F64_TINY = float(np.finfo(np.float64).tiny)
F64_SIGMOID_FLOOR = 3.4e-308  # ~exp(-708): the kernels' exp stays a normal number


def sigmoid64(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def float32_grid() -> np.ndarray:
    magnitudes = np.concatenate(
        [
            np.geomspace(1e-45, 3.4e38, 200_001),  # the whole range, subnormals included
            np.linspace(0, 20, 200_001),  # where both functions bend
            np.linspace(0.6, 0.65, 50_001),  # tanh switches formula at 0.625
        ]
    ).astype(np.float32)
    return np.concatenate([magnitudes, -magnitudes])


def test_float32_sigmoid_and_tanh_against_libm(isa):
    x = float32_grid()
    x64 = x.astype(np.float64)
    s = _core.sigmoid(x).astype(np.float64)
    want = sigmoid64(x64)
    assert np.abs(s - want).max() <= 2.5e-7
    t = _core.tanh(x).astype(np.float64)
    want = np.tanh(x64)
    nonzero = np.abs(want) >= F32_TINY
    assert (np.abs(t - want)[nonzero] / np.abs(want)[nonzero]).max() <= 4e-7
    assert np.all(t[~nonzero] == x[~nonzero])  # tanh(x) = x for tiny x


def test_float64_sigmoid_and_tanh_against_mpmath(isa):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    mag = np.concatenate([np.geomspace(1e-300, 1e300, 801), np.linspace(0, 40, 801)])
    x = np.concatenate([mag, -mag])
    want_s = np.array([float(1 / (1 + mpmath.exp(-mpmath.mpf(v)))) for v in x])
    want_t = np.array([float(mpmath.tanh(mpmath.mpf(v))) for v in x])
    s, t = _core.sigmoid(x), _core.tanh(x)
    normal = want_s >= F64_SIGMOID_FLOOR
    assert (np.abs(s - want_s)[normal] / want_s[normal]).max() <= 1e-15
    nonzero = np.abs(want_t) >= F64_TINY
    assert (np.abs(t - want_t)[nonzero] / np.abs(want_t)[nonzero]).max() <= 1e-15


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values(isa, dtype):
    x = np.array([0.0, np.inf, -np.inf, np.nan, 1e30, -1e30], dtype)
    np.testing.assert_array_equal(_core.sigmoid(x), np.array([0.5, 1, 0, np.nan, 1, 0], dtype))
    np.testing.assert_array_equal(_core.tanh(x), np.array([0, 1, -1, np.nan, 1, -1], dtype))


def test_float32_sigmoid_is_tanh_of_half_halved_plus_half(isa):
    """sigmoid(x) = tanh(x/2)/2 + 1/2, with the halvings folded into the rational's
    coefficients (scaled by powers of two, which is exact): the bits of the unfolded form,
    its half-sum rounded once. A multiply-add fused over that sum would differ, and let the
    rational's overshoot through (sigmoid(-18) came out -7.8e-9 instead of 0)."""
    x = np.concatenate([float32_grid(), np.array([np.inf, -np.inf, np.nan], np.float32)])
    half = np.float32(0.5)
    unfolded = half * _core.tanh(half * x) + half  # float32 throughout: NumPy fuses nothing
    np.testing.assert_array_equal(_core.sigmoid(x), unfolded)


@pytest.mark.parametrize("n", [0, 1, 3, 15, 16, 17, 33])
def test_every_length_including_vector_tails(isa, n):
    x = np.linspace(-5, 5, n).astype(np.float32)
    np.testing.assert_allclose(_core.tanh(x), np.tanh(x), rtol=4e-7, atol=0)
