// Vectorised sigmoid and tanh for the gate epilogues. They run for every gate
// of every unit at every step, so they are kept short.
//
// float64 (the gradient-check precision): exponential forms accurate to a few
// ulp, through exp of a NON-POSITIVE argument only (exp(-|x|)), which cannot
// overflow. float32 (the fast path): a rational tanh and sigmoid through it,
// see RationalTanh below. Coefficients come from tools/fit_activations.py;
// tests/test_activations.py measures the errors against libm and states them.
#pragma once

#include "simd.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

template <class T>
struct ExpConstants;  // float64 only: float32 uses the rational forms

template <>
struct ExpConstants<double> {
  static constexpr double lowest = -708.0;  // exp(-708) = 3.3e-308 > DBL_MIN
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
};

template <class T, int N>
LSTMFAST_INLINE V<T> horner(V<T> x, const T (&c)[N]) {
  V<T> acc = set1<T>(c[0]);
#pragma GCC unroll 16
  for (int i = 1; i < N; ++i) acc = acc * x + c[i];
  return acc;
}

// For x <= 0 (NaN propagates): exp(x) = s (1 + m) and expm1(x) = s m + (s - 1)
// with s = 2^n and m = exp(r) - 1, after the range reduction x = n ln2 + r.
// Keeping m separate is what makes expm1 exact near 0 (n = 0, s - 1 = 0).
template <class T>
LSTMFAST_INLINE void exp_split(V<T> x, V<T>& s, V<T>& m) {
  using C = ExpConstants<T>;
  x = select<T>(x < C::lowest, set1<T>(C::lowest), x);
  const V<T> t = x * T(1.4426950408889634) + C::magic;
  const V<T> n = t - C::magic;
  const Bits<T> ni = as_bits<T>(t) - as_bits<T>(set1<T>(C::magic));
  V<T> r = x - n * C::ln2_hi;
  r = r - n * C::ln2_lo;
  m = r + r * r * horner<T>(r, C::p);
  s = from_bits<T>((ni + C::exponent_bias) << C::mantissa_bits);
}

template <class T>
LSTMFAST_INLINE V<T> exp_nonpositive(V<T> x) {
  V<T> s, m;
  exp_split<T>(x, s, m);
  return s * m + s;
}

// σ(x) = 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below, so neither
// side loses relative precision.
// Below `lowest` the result is flushed to 0 (its true value is under
// 1.7e-38 in float), so sigmoid(-inf) = 0.
template <class T>
LSTMFAST_INLINE V<T> sigmoid(V<T> x) {
  const V<T> e = exp_nonpositive<T>(-vabs<T>(x));
  const V<T> s = reciprocal<T>(T(1) + e);
  const V<T> below = e * s;
  return select<T>(x < T(0), from_bits<T>(as_bits<T>(below) & ~(x < ExpConstants<T>::lowest)), s);
}

// tanh|x| = -expm1(-2|x|) / (2 + expm1(-2|x|)), with the sign of x: one
// exponential and one division, and no cancellation near 0 (expm1 is exact
// there).
template <class T>
LSTMFAST_INLINE V<T> tanh(V<T> x) {
  V<T> s, m;
  exp_split<T>(T(-2) * vabs<T>(x), s, m);
  const V<T> em1 = s * m + (s - T(1));
  const V<T> t = (T(0) - em1) * reciprocal<T>(T(2) + em1);  // 0 - em1: +0 at x = 0, not -0
  return from_bits<T>(as_bits<T>(t) | (as_bits<T>(x) & as_bits<T>(set1<T>(T(-0.0)))));
}

// float32, the fast path: tanh as a rational function, x P(x^2) / Q(x^2) on
// |x| <= 9 (beyond, tanh rounds to +-1 in float32), and sigmoid through it,
// σ(x) = 1/2 + tanh(x/2)/2. 16 vector instructions with AVX-512 (17 for
// sigmoid) instead of ~32 for the exponential forms; with the branch-free
// epilogues this took the LSTM forward step 3-5% faster at H = 128. The
// price: sigmoid's error is small in absolute terms (2.5e-7) rather than
// relative to tiny results in its left tail (sigmoid(-20) = 2e-9 comes out as
// a few 1e-8 or 0).
//
// Sigmoid evaluates tanh(x/2)/2 with the halvings moved into the
// coefficients: with y = x/2, P(y^2) = Σ p_k x^2k / 4^k, so
//   tanh(y)/2 = x Σ (p_k / 4^(k+1)) x^2k / Σ (q_k / 4^k) x^2k,
// which scales every step of both Horner sums by a power of two (exact): the
// same bits as 0.5 * tanh(0.5 * x) + 0.5 without the two halvings. The
// activations are most of the LSTM's epilogue: at T=30, B=32, H=64 a third
// of the forward.
struct RationalTanh {
  static constexpr float clamp = 9.0f;
  static constexpr float p[5] = {0.99999997961684883f, 0.13378702438359821f, 0.0034928283495711762f,
                                 2.0563891776763463e-05f, 1.3293082079535168e-08f};
  static constexpr float q[5] = {1.0f, 0.46712017901734287f, 0.025866482178731873f, 0.00032811275014158658f,
                                 7.7510999292942917e-07f};
  static constexpr float half_p[5] = {p[0] / 4, p[1] / 16, p[2] / 64, p[3] / 256, p[4] / 1024};
  static constexpr float half_q[5] = {q[0], q[1] / 4, q[2] / 16, q[3] / 64, q[4] / 256};
};

// x P(x^2) / Q(x^2) for x limited to [-clamp, clamp] (NaN passes through).
LSTMFAST_INLINE V<float> odd_rational(V<float> x, float clamp, const float (&p)[5], const float (&q)[5]) {
  x = clamp_magnitude<float>(x, clamp);
  const V<float> x2 = x * x;
  const V<float> num = (((p[4] * x2 + p[3]) * x2 + p[2]) * x2 + p[1]) * x2 + p[0];
  const V<float> den = (((q[4] * x2 + q[3]) * x2 + q[2]) * x2 + q[1]) * x2 + q[0];
  return x * num * reciprocal<float>(den);
}

template <>
LSTMFAST_INLINE V<float> tanh<float>(V<float> x) {
  return odd_rational(x, RationalTanh::clamp, RationalTanh::p, RationalTanh::q);
}

template <>
LSTMFAST_INLINE V<float> sigmoid<float>(V<float> x) {
  using C = RationalTanh;
  V<float> half_tanh = odd_rational(x, 2 * C::clamp, C::half_p, C::half_q);
  // Rounded before the + 1/2, as tanh's result was: fused into one
  // multiply-add, the rational's overshoot past 1/2 at the clamp survives
  // (sigmoid(-18) came out -7.8e-9 instead of 0).
#if defined(__x86_64__) || defined(__i386__)
  asm("" : "+v"(half_tanh));
#elif defined(__aarch64__)
  asm("" : "+w"(half_tanh));
#endif
  return half_tanh + 0.5f;
}

template <class T>
inline V<T> relu(V<T> x) {
  // x > 0 is false for NaN, so NaN would become 0: keep NaN visible instead.
  return select<T>(x > T(0), x, select<T>(x != x, x, set1<T>(T(0))));
}

// The gradient d through the clip of z: d where |z| <= c (the bounds
// included), 0 where z was clipped.
template <class T>
LSTMFAST_INLINE V<T> through_clip(V<T> d, V<T> z, V<T> c) {
  return from_bits<T>(as_bits<T>(d) & (vabs<T>(z) <= c));
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
