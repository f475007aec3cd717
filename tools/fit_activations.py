"""Fit the coefficients used by src/cpp/kernels/activations.h.

Run: python tools/fit_activations.py   (needs numpy and mpmath)

* exp(r) - 1 = r + r^2 P(r), degree 10, on |r| <= ln(2)/2 (after the range
  reduction x = n ln2 + r), float64 kernels; least squares on the relative
  error over Chebyshev nodes, targets from mpmath at 60 digits.
* tanh(x) = x P(x^2) / Q(x^2) on |x| <= 9 (tanh rounds to +-1 in float32
  beyond), float32 kernels; the float32 sigmoid is 1/2 + tanh(x/2)/2.
  Iteratively reweighted least squares on the linearised relative error
  x P(x^2) / tanh(x) - Q(x^2) = 0, Q(0) = 1.

Prints the coefficients (lowest degree first for the rational fit, highest
first for P) and the maximum relative approximation error on a dense grid.
"""

import mpmath
import numpy as np

mpmath.mp.dps = 60
TANH_CLAMP = 9.0


def chebyshev_nodes(a, b, n):
    k = np.arange(n)
    return 0.5 * (a + b) + 0.5 * (b - a) * np.cos((2 * k + 1) * np.pi / (2 * n))


def fit_exp(degree):
    h = float(mpmath.log(2)) / 2
    nodes = chebyshev_nodes(-h, h, 400)
    nodes = nodes[np.abs(nodes) > 1e-6]
    rows, rhs = [], []
    for r in nodes:
        e = mpmath.exp(r)
        rows.append([float(mpmath.mpf(r) ** (2 + k) / e) for k in range(degree + 1)])
        rhs.append(float((e - 1 - r) / e))
    c, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    grid = np.linspace(-h, h, 2001)
    err = max(
        abs(
            float(
                (1 + mpmath.mpf(r) + mpmath.mpf(r) ** 2 * sum(ck * mpmath.mpf(r) ** k for k, ck in enumerate(c)))
                / mpmath.exp(r)
                - 1
            )
        )
        for r in grid
    )
    return c[::-1], err


def fit_tanh_rational(num_terms=5, den_terms=4, iterations=12):
    xs = np.concatenate([np.linspace(1e-4, 1, 400), np.linspace(1, TANH_CLAMP, 800)])
    t = np.array([float(mpmath.tanh(v)) for v in xs])
    weights = np.ones_like(xs)

    def rational(p, q, x):
        x2 = x * x
        return x * np.polyval(p[::-1], x2) / np.polyval(q[::-1], x2)

    for _ in range(iterations):
        x2 = xs * xs
        A = np.column_stack([xs * x2**k / t for k in range(num_terms)] + [-(x2**k) for k in range(1, den_terms + 1)])
        c, *_ = np.linalg.lstsq(A * weights[:, None], weights, rcond=None)
        p, q = c[:num_terms], np.concatenate([[1.0], c[num_terms:]])
        err = np.abs(rational(p, q, xs) / t - 1)
        weights = weights * (1 + err / err.max())  # push on the worst points
    grid = np.linspace(1e-5, TANH_CLAMP, 200001)
    return p, q, float(np.abs(rational(p, q, grid) / np.tanh(grid) - 1).max())


if __name__ == "__main__":
    c, err = fit_exp(10)
    print(f"exp P(r) float64 degree 10: max rel. approximation error {err:.2e}")
    print("   ", ", ".join(f"{v:.17g}" for v in c))
    p, q, err = fit_tanh_rational()
    print(f"tanh x P(x^2)/Q(x^2) on |x| <= {TANH_CLAMP}: max rel. approximation error {err:.2e}")
    print("    P:", ", ".join(f"{v:.17g}" for v in p))
    print("    Q:", ", ".join(f"{v:.17g}" for v in q))
