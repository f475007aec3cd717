"""Fit the polynomial coefficients used by src/cpp/kernels/activations.h.

Run: python tools/fit_activations.py   (needs numpy and mpmath)

Two approximations are fitted, each for float32 and float64, by least squares
on the relative error over Chebyshev nodes, with targets computed by mpmath at
60 digits:

* exp(r) = 1 + r + r^2 * P(r) on |r| <= ln(2)/2 (after range reduction
  x = n*ln2 + r, exp(x) = 2^n * exp(r));
* tanh(x) = x + x^3 * Q(x^2) on |x| <= TANH_SMALL (above it the kernels use
  1 - 2/(exp(2|x|) + 1), which has no cancellation there).

The script prints the coefficients (highest degree first, as Horner's rule
uses them) and the maximum relative approximation error on a dense grid.
"""
import mpmath
import numpy as np

mpmath.mp.dps = 60
TANH_SMALL = 0.625


def chebyshev_nodes(a, b, n):
    k = np.arange(n)
    return 0.5 * (a + b) + 0.5 * (b - a) * np.cos((2 * k + 1) * np.pi / (2 * n))


def fit(basis, target, nodes):
    """Least squares for coefficients c minimising max-ish relative error."""
    A = np.array([[float(f) for f in basis(x)] for x in nodes])
    y = np.array([float(target(x)) for x in nodes])
    c, *_ = np.linalg.lstsq(A, y, rcond=None)
    return c


def fit_exp(degree):
    # exp(r) - 1 - r = r^2 * P(r); divide by exp(r) to weight relatively.
    h = float(mpmath.log(2)) / 2
    nodes = chebyshev_nodes(-h, h, 400)
    nodes = nodes[np.abs(nodes) > 1e-6]

    def basis(r):
        e = mpmath.exp(r)
        return [mpmath.mpf(r) ** (2 + k) / e for k in range(degree + 1)]

    def target(r):
        r = mpmath.mpf(r)
        return (mpmath.exp(r) - 1 - r) / mpmath.exp(r)

    c = fit(basis, target, nodes)
    grid = np.linspace(-h, h, 20001)
    err = max(abs(float((1 + mpmath.mpf(r) + mpmath.mpf(r) ** 2 * sum(ck * mpmath.mpf(r) ** k for k, ck in enumerate(c))) / mpmath.exp(r) - 1)) for r in grid[::20])
    return c[::-1], err


def fit_tanh(degree):
    nodes = chebyshev_nodes(0, TANH_SMALL, 300)

    def basis(x):
        t = mpmath.tanh(x)
        return [mpmath.mpf(x) ** (3 + 2 * k) / t for k in range(degree + 1)]

    def target(x):
        x = mpmath.mpf(x)
        return (mpmath.tanh(x) - x) / mpmath.tanh(x)

    c = fit(basis, target, nodes)
    grid = np.linspace(1e-4, TANH_SMALL, 1001)
    err = max(abs(float((mpmath.mpf(x) + sum(ck * mpmath.mpf(x) ** (3 + 2 * k) for k, ck in enumerate(c))) / mpmath.tanh(x) - 1)) for x in grid)
    return c[::-1], err


if __name__ == "__main__":
    for name, (deg32, deg64), f in (("exp P(r)", (4, 10), fit_exp), ("tanh Q(x^2)", (4, 11), fit_tanh)):
        for label, deg in (("float32", deg32), ("float64", deg64)):
            c, err = f(deg)
            print(f"{name} {label} degree {deg}: max rel. approximation error {err:.2e}")
            print("   ", ", ".join(f"{v:.17g}" for v in c))
