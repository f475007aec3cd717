// Vector types for one instruction set, from GCC/Clang vector extensions.
//
// Included by the kernel headers, which are compiled once per ISA through
// isa/*.cpp, with LSTMFAST_ISA defined by CMakeLists.txt (the namespace that keeps
// each ISA's inline functions apart, so the linker never mixes an AVX-512
// copy into the portable path) and LSTMFAST_VECTOR_BYTES (16, 32 or 64), and
// the ISA's compiler flags decide which instructions the operators become.
// No namespace-scope vector constants: they could run before dispatch.
#pragma once

#include <cstdint>
#include <cstring>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "../api.h"

#if !defined(LSTMFAST_ISA) || !defined(LSTMFAST_VECTOR_BYTES)
#error "kernels are compiled through isa/*.cpp, which define LSTMFAST_ISA and LSTMFAST_VECTOR_BYTES"
#endif

// For functions that take or return register tiles: a call that is not
// inlined would force the tile through memory.
#define LSTMFAST_INLINE inline __attribute__((always_inline))
// The same for a lambda, after its parameter list: a cell's math inlined into
// the epilogue that calls it, wherever that epilogue is instantiated.
#define LSTMFAST_INLINE_LAMBDA __attribute__((always_inline))

namespace lstmfast {
namespace LSTMFAST_ISA {

// Asks for the cache line holding p (a prefetch never faults). The LSTM's
// and GRU's backward passes read their tapes last step first, from L3 or
// memory: each row's epilogue asks for the tape rows it reads at the next
// step, one step ahead. Into L1 (prefetcht0): into L2 only (prefetcht1) the
// LSTM's BPTT at T=100, B=64, H=128 gained 8% in some processes and nothing
// in others; into L1 5-7% in every one (Zen 4, 1 thread). The RNN's one
// read per row and vector gained nothing (2 threads: 8% slower). Always
// inlined: GCC 12 deletes calls to a plain inline function around a
// prefetch, which it finds free of side effects.
LSTMFAST_INLINE void prefetch(const void* p) { __builtin_prefetch(p, 0, 3); }

template <class T>
struct Vec;

template <>
struct Vec<float> {
  typedef float type __attribute__((vector_size(LSTMFAST_VECTOR_BYTES)));
  typedef std::int32_t bits __attribute__((vector_size(LSTMFAST_VECTOR_BYTES)));
  static constexpr int width = LSTMFAST_VECTOR_BYTES / 4;
};

template <>
struct Vec<double> {
  typedef double type __attribute__((vector_size(LSTMFAST_VECTOR_BYTES)));
  typedef std::int64_t bits __attribute__((vector_size(LSTMFAST_VECTOR_BYTES)));
  static constexpr int width = LSTMFAST_VECTOR_BYTES / 8;
};

template <class T>
using V = typename Vec<T>::type;
template <class T>
using Bits = typename Vec<T>::bits;
template <class T>
constexpr int kWidth = Vec<T>::width;

// A vector initialiser listing s once per lane: compilers turn it into one
// broadcast. (Not `V<T>{} + s`: 0 + -0.0 is +0.0, losing the sign of -0.0.)
template <class T, std::size_t... Lane>
inline V<T> set1_lanes(T s, std::index_sequence<Lane...>) {
  return V<T>{((void)Lane, s)...};
}

template <class T>
inline V<T> set1(T s) {
  return set1_lanes<T>(s, std::make_index_sequence<kWidth<T>>{});
}

template <class T>
inline V<T> loadu(const T* p) {
  V<T> v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <class T>
inline void storeu(T* p, V<T> v) {
  std::memcpy(p, &v, sizeof v);
}

// The first n (< width) lanes; the others are zero. AVX-512 has masked
// loads and stores for this; elsewhere it goes through a small copy.
template <class T>
inline V<T> load_partial(const T* p, int n) {
  V<T> v = {};
  std::memcpy(&v, p, static_cast<std::size_t>(n) * sizeof(T));
  return v;
}

template <class T>
inline void store_partial(T* p, V<T> v, int n) {
  std::memcpy(p, &v, static_cast<std::size_t>(n) * sizeof(T));
}

#if defined(__AVX512F__)
template <>
inline V<float> load_partial<float>(const float* p, int n) {
  return (V<float>)_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p);
}
template <>
inline void store_partial<float>(float* p, V<float> v, int n) {
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), (__m512)v);
}
template <>
inline V<double> load_partial<double>(const double* p, int n) {
  return (V<double>)_mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << n) - 1), p);
}
template <>
inline void store_partial<double>(double* p, V<double> v, int n) {
  _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << n) - 1), (__m512d)v);
}
#endif

// n lanes from p, full or partial.
template <class T>
inline V<T> load_n(const T* p, int n) {
  return n == kWidth<T> ? loadu(p) : load_partial(p, n);
}

template <class T>
inline void store_n(T* p, V<T> v, int n) {
  if (n == kWidth<T>) storeu(p, v);
  else store_partial(p, v, n);
}

// A vector of lanes that is either known full at compile time (no branch)
// or n < width lanes: what the epilogues use, so the common full blocks of
// hidden units compile to plain loads and stores.
template <bool Full>
struct Lanes {
  int n;
  template <class T>
  LSTMFAST_INLINE V<T> load(const T* p) const {
    if constexpr (Full) return loadu<T>(p);
    else return load_partial<T>(p, n);
  }
  template <class T>
  LSTMFAST_INLINE void store(T* p, V<T> v) const {
    if constexpr (Full) storeu<T>(p, v);
    else store_partial<T>(p, v, n);
  }
};

// Calls f(Lanes<true>{}) when n is the full width, else f(Lanes<false>{n}).
template <class T, class F>
LSTMFAST_INLINE void with_lanes(int n, F&& f) {
  if (n == kWidth<T>) f(Lanes<true>{n});
  else f(Lanes<false>{n});
}

// Casts between vector types of one size reinterpret the bits.
template <class T>
inline Bits<T> as_bits(V<T> v) {
  return (Bits<T>)v;
}

template <class T>
inline V<T> from_bits(Bits<T> b) {
  return (V<T>)b;
}

template <class T>
inline V<T> vabs(V<T> x) {
  return from_bits<T>(as_bits<T>(x) & ~as_bits<T>(set1<T>(T(-0.0))));
}

// Lanes where mask is all ones take a, the others b.
template <class T>
inline V<T> select(Bits<T> mask, V<T> a, V<T> b) {
  return from_bits<T>((mask & as_bits<T>(a)) | (~mask & as_bits<T>(b)));
}

// x limited to [-c, c], NaN kept: c < x ? c : x, then -c > x ? -c : x (the
// float32 tanh's range, ONNX's clip of a pre-activation). x86's MINPS and
// MAXPS compute exactly that (their second operand when either is NaN) in one
// instruction, where a compare and a select took three.
template <class T>
LSTMFAST_INLINE V<T> clamp_magnitude(V<T> x, T c) {
  const V<T> hi = set1<T>(c), lo = set1<T>(-c);
  x = select<T>(hi < x, hi, x);
  return select<T>(lo > x, lo, x);
}

#if LSTMFAST_VECTOR_BYTES == 64 && defined(__AVX512F__)
template <>
LSTMFAST_INLINE V<float> clamp_magnitude<float>(V<float> x, float c) {
  // The all-lanes mask forms, as in reciprocal below (gcc 12 warns on the others).
  const __mmask16 all = static_cast<__mmask16>(0xFFFF);
  const __m512 below = _mm512_maskz_min_ps(all, _mm512_set1_ps(c), (__m512)x);
  return (V<float>)_mm512_maskz_max_ps(all, _mm512_set1_ps(-c), below);
}
#elif LSTMFAST_VECTOR_BYTES == 32 && defined(__AVX__)
template <>
LSTMFAST_INLINE V<float> clamp_magnitude<float>(V<float> x, float c) {
  return (V<float>)_mm256_max_ps(_mm256_set1_ps(-c), _mm256_min_ps(_mm256_set1_ps(c), (__m256)x));
}
#elif LSTMFAST_VECTOR_BYTES == 16 && defined(__SSE__)  // x86's baseline (the portable unit)
template <>
LSTMFAST_INLINE V<float> clamp_magnitude<float>(V<float> x, float c) {
  return (V<float>)_mm_max_ps(_mm_set1_ps(-c), _mm_min_ps(_mm_set1_ps(c), (__m128)x));
}
#endif

// 1 / d. float on AVX-512: the 14-bit hardware estimate plus one Newton step
// (relative error ~2^-27, under float's rounding), a third of a division's
// cost; elsewhere a division.
template <class T>
LSTMFAST_INLINE V<T> reciprocal(V<T> d) {
  return T(1) / d;
}

#if defined(__AVX512F__)
template <>
LSTMFAST_INLINE V<float> reciprocal<float>(V<float> d) {
  // The all-lanes mask form: gcc 12's _mm512_rcp14_ps warns (its passthrough
  // operand is "uninitialised"); this compiles to the same vrcp14ps.
  const V<float> r = (V<float>)_mm512_maskz_rcp14_ps(static_cast<__mmask16>(0xFFFF), (__m512)d);
  return r * (2.0f - d * r);
}
#endif

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
