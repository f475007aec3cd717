// Vectorised sigmoid and tanh for the gate epilogues.
//
// Both go through exp of a NON-POSITIVE argument only (exp(-|x|)), which
// cannot overflow, so they are correct over the whole floating-point range
// without clamping tricks on the output. Coefficients come from
// tools/fit_activations.py (least-squares fits of the relative error against
// mpmath); tests/test_activations.py measures the error against libm.
#pragma once

#include "simd.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

template <class T>
struct ExpConstants;

template <>
struct ExpConstants<float> {
  // Below this exp underflows to 0 even as a subnormal.
  static constexpr float lowest = -104.0f;
  static constexpr float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  static constexpr int mantissa_bits = 23;
  static constexpr int exponent_bias = 127;
  static constexpr float ln2_hi = 0.693359375f;  // few bits, so n * ln2_hi is exact
  static constexpr float ln2_lo = -2.12194440e-4f;  // ln 2 - ln2_hi
  // exp(r) = 1 + r + r^2 P(r) on |r| <= ln(2)/2, highest degree first.
  static constexpr int degree = 4;
  static constexpr float p[degree + 1] = {0.0013751407895852552f, 0.0083689163413751266f, 0.041669533109222848f,
                                          0.16666518459980356f, 0.49999988595112782f};
  // tanh(x) = x + x^3 Q(x^2) on |x| < tanh_small.
  static constexpr int tanh_degree = 4;
  static constexpr float q[tanh_degree + 1] = {-0.0057189625640191423f, 0.020653124518698572f,
                                               -0.05374465790181477f, 0.13331512665015322f,
                                               -0.33333285219564435f};
};

template <>
struct ExpConstants<double> {
  static constexpr double lowest = -746.0;
  static constexpr double magic = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr int mantissa_bits = 52;
  static constexpr int exponent_bias = 1023;
  static constexpr double ln2_hi = 0.6931467056274414;  // low 32 mantissa bits zero
  static constexpr double ln2_lo = 4.7493250390316726e-07;  // ln 2 - ln2_hi, to 50 digits, rounded
  static constexpr int degree = 10;
  static constexpr double p[degree + 1] = {
      2.1889848574036105e-09, 2.5136086163399235e-08, 2.7554260646421547e-07, 2.7557165742260188e-06,
      2.4801590682706491e-05, 0.00019841269964534255, 0.0013888888887271904, 0.008333333333290744,
      0.041666666666669697,   0.1666666666666673,     0.50000000000000033};
  static constexpr int tanh_degree = 11;
  static constexpr double q[tanh_degree + 1] = {
      6.2721413999152195e-06, -3.0779060496180281e-05, 9.2222669626444408e-05, -0.00023743758188611935,
      0.00058962365914344496, -0.0014557713149572003,  0.0035921218854176548,  -0.0088632351990778589,
      0.021869488530390092,   -0.053968253968507372,   0.1333333333333451,     -0.33333333333333354};
};

template <class T, int N>
inline V<T> horner(V<T> x, const T (&c)[N]) {
  V<T> acc = set1<T>(c[0]);
#pragma GCC unroll 16
  for (int i = 1; i < N; ++i) acc = acc * x + c[i];
  return acc;
}

// exp(x) for x <= 0 (NaN propagates). Range reduction x = n ln2 + r; the
// scale 2^n is applied in two halves so subnormal results come out right.
template <class T>
inline V<T> exp_nonpositive(V<T> x) {
  using C = ExpConstants<T>;
  x = select<T>(x < C::lowest, set1<T>(C::lowest), x);
  const V<T> t = x * T(1.4426950408889634) + C::magic;
  const V<T> n = t - C::magic;
  const Bits<T> ni = as_bits<T>(t) - as_bits<T>(set1<T>(C::magic));
  V<T> r = x - n * C::ln2_hi;
  r = r - n * C::ln2_lo;
  const V<T> p = T(1) + r + r * r * horner<T>(r, C::p);
  const Bits<T> n1 = ni >> 1;
  const Bits<T> n2 = ni - n1;
  const V<T> s1 = from_bits<T>((n1 + C::exponent_bias) << C::mantissa_bits);
  const V<T> s2 = from_bits<T>((n2 + C::exponent_bias) << C::mantissa_bits);
  return p * s1 * s2;
}

// σ(x) = 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below, so neither
// side loses relative precision.
template <class T>
inline V<T> sigmoid(V<T> x) {
  const V<T> e = exp_nonpositive<T>(-vabs<T>(x));
  const V<T> s = T(1) / (T(1) + e);
  return select<T>(x < T(0), e * s, s);
}

// tanh(x): an odd polynomial near 0 (where (1 - e)/(1 + e) would cancel),
// sign(x) (1 - e)/(1 + e) with e = exp(-2|x|) elsewhere.
template <class T>
inline V<T> tanh(V<T> x) {
  const V<T> ax = vabs<T>(x);
  const V<T> x2 = x * x;
  const V<T> small = x + x * x2 * horner<T>(x2, ExpConstants<T>::q);
  const V<T> e = exp_nonpositive<T>(T(-2) * ax);
  const V<T> large_abs = (T(1) - e) / (T(1) + e);
  const V<T> large = from_bits<T>(as_bits<T>(large_abs) | (as_bits<T>(x) & as_bits<T>(set1<T>(T(-0.0)))));
  return select<T>(ax < T(0.625), small, large);
}

template <class T>
inline V<T> relu(V<T> x) {
  // x > 0 is false for NaN, so NaN would become 0: keep NaN visible instead.
  return select<T>(x > T(0), x, select<T>(x != x, x, set1<T>(T(0))));
}

// Whole-array versions, for tests and benchmarks.
template <class T>
void sigmoid_array(const T* x, T* y, index_t n) {
  const int W = kWidth<T>;
  for (index_t i = 0; i < n; i += W) {
    const int m = static_cast<int>(n - i < W ? n - i : W);
    store_n<T>(y + i, sigmoid<T>(load_n<T>(x + i, m)), m);
  }
}

template <class T>
void tanh_array(const T* x, T* y, index_t n) {
  const int W = kWidth<T>;
  for (index_t i = 0; i < n; i += W) {
    const int m = static_cast<int>(n - i < W ? n - i : W);
    store_n<T>(y + i, tanh<T>(load_n<T>(x + i, m)), m);
  }
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
