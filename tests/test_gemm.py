"""The blocked GEMM (kernels/gemm.h) through ``_core.matmul``, on shapes that cross
its blocks: K past one kc block (1024), N past one column block (what fits in
2 MiB: 512 float32 or 256 float64 columns at kc = 1024), M past one row block
and not a multiple of the register tile.

Every LSTM, GRU and RNN product runs on this GEMM, but through the cells its
column blocks are only crossed at large H; here they are crossed directly.
"""

from __future__ import annotations

import numpy as np
import pytest

import lstmfast
from lstmfast import _core

SHAPES = [  # M, K, N
    (7, 5, 3),
    (61, 1100, 530),  # two K blocks, two float32 column blocks, a row tail
    (130, 2100, 1030),  # three K blocks, three float32 / five float64 column blocks
    (1, 3000, 17),
    (67, 16, 4100),  # one shallow K block: 4100 columns fit in one block
]


def _bound(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The forward error bound of a dot product of length K summed in the
    working precision: K·u·(|A||B|), u the unit roundoff (Higham, Accuracy and
    Stability of Numerical Algorithms, 2nd ed., eq. 3.5), doubled."""
    u = np.finfo(a.dtype).eps / 2
    return 2 * a.shape[1] * u * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matmul_within_the_rounding_bound(shape, dtype):
    M, K, N = shape
    rng = np.random.default_rng(M * 7 + K + N)
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    # In float64 NumPy's product has an error of the same bound as ours; the
    # bound's factor 2 covers both.
    exact = a.astype(np.float64) @ b.astype(np.float64)
    c = _core.matmul(a, b)
    assert c.shape == (M, N) and c.dtype == dtype
    err = np.abs(c.astype(np.float64) - exact)
    assert np.all(err <= _bound(a, b)), f"worst error {err.max():.3g}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_same_bits_on_any_thread_count(dtype):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((130, 2100)).astype(dtype)
    b = rng.standard_normal((2100, 1030)).astype(dtype)
    before = lstmfast.get_num_threads()
    try:
        lstmfast.set_num_threads(1)
        one = _core.matmul(a, b)
        lstmfast.set_num_threads(2)
        two = _core.matmul(a, b)
    finally:
        lstmfast.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


def test_matmul_leaves_its_inputs_alone():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((61, 1100)).astype(np.float32)
    b = rng.standard_normal((1100, 530)).astype(np.float32)
    a0, b0 = a.copy(), b.copy()
    _core.matmul(a, b)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


# Narrow C (N at most half a vector: 8 float32 columns with AVX-512, fewer on
# narrower ISAs) takes a path of its own: one dot product per element, in
# blocks of 1, 2 or 4 columns.
NARROW = [
    (1, 1, 1),
    (5, 3, 1),
    (37, 256, 1),
    (40, 257, 2),
    (300, 512, 4),
    (17, 33, 3),
    (64, 1100, 1),
    (29, 300, 5),
    (300, 512, 8),
    (7, 17, 7),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", NARROW, ids=lambda s: "x".join(map(str, s)))
def test_narrow_matmul_within_the_rounding_bound(shape, dtype):
    M, K, N = shape
    rng = np.random.default_rng(M + 3 * K + N)
    a = rng.standard_normal((M, K)).astype(dtype)
    b = rng.standard_normal((K, N)).astype(dtype)
    c = _core.matmul(a, b)
    err = np.abs(c.astype(np.float64) - a.astype(np.float64) @ b.astype(np.float64))
    assert np.all(err <= _bound(a, b)), f"worst error {err.max():.3g}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N", [1, 2, 3, 4, 5, 7, 8, 9])
def test_a_row_of_c_does_not_depend_on_the_rows_around_it(N, dtype):
    # Every element is the same chain of operations wherever its row falls in
    # a tile, so a row of C is the same bits in a product of any number of rows
    # (what makes a sequence's gradients independent of the batch around it).
    rng = np.random.default_rng(N)
    a = rng.standard_normal((53, 300)).astype(dtype)
    b = rng.standard_normal((300, N)).astype(dtype)
    whole = _core.matmul(a, b)
    for lo, hi in [(0, 1), (5, 22), (17, 53), (52, 53)]:
        np.testing.assert_array_equal(_core.matmul(np.ascontiguousarray(a[lo:hi]), b), whole[lo:hi])


def test_narrow_matmul_propagates_nan_and_inf_only_where_they_are():
    # The zero padding of B's columns past K must not meet A's padding: a NaN
    # in one row of A reaches that row of C alone.
    rng = np.random.default_rng(9)
    a = rng.standard_normal((20, 19)).astype(np.float32)
    b = rng.standard_normal((19, 1)).astype(np.float32)
    a[3, 18] = np.nan
    a[4, 0] = np.inf
    c = _core.matmul(a, b)
    assert np.isnan(c[3, 0]) and np.isinf(c[4, 0])
    assert np.all(np.isfinite(np.delete(c, [3, 4], axis=0)))
