// The register tile every product in lstmfast runs on: MR rows of A, each
// broadcast, times NV vectors of a packed weight panel, accumulated in
// MR x NV vector registers over K. The GEMM stores the tile; the recurrent
// kernels hand it to a fused epilogue (gate nonlinearities, c/h update).
#pragma once

#include <type_traits>

#include "simd.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// Register-tile shapes for this vector width: MR x NV vectors, chosen so the
// accumulators, NV weight vectors and one broadcast fit in the register file
// (32 vector registers with AVX-512 and NEON, 16 with AVX2 and SSE).
#if LSTMFAST_VECTOR_BYTES == 64
constexpr int kGemmMR = 6, kGemmNV = 4;  // 24 accumulators
constexpr int kLstmMR = 6;               // x 4 gates = 24
constexpr int kGruMR = 8;                // x 3 gates = 24
#else
constexpr int kGemmMR = 6, kGemmNV = 2;  // 12 accumulators
constexpr int kLstmMR = 3;               // x 4 gates = 12
constexpr int kGruMR = 4;                // x 3 gates = 12
#endif

// Calls f(std::integral_constant<int, NV>) for a runtime tile width nv in
// 1..kGemmNV vectors.
template <int NV = kGemmNV, class F>
inline void with_nv(int nv, F&& f) {
  if constexpr (NV > 0) {
    if (nv == NV) f(std::integral_constant<int, NV>{});
    else with_nv<NV - 1>(nv, f);
  }
}

// The tile's MR rows of A, element (m, k) at a(m, k), in the two layouts the
// products use.
//
// An MR-row panel, k-major: (m, k) at a[k * MR + m] (the GEMM's packed A).
template <class T, int MR>
struct PackedRows {
  const T* a;
  LSTMFAST_INLINE T operator()(int m, index_t k) const { return a[k * MR + m]; }
};

// Rows read in place: (m, k) at a[m * lda + k] (the recurrent kernels'
// h<t-1> or dG<t+1>, used once per panel; the GEMM's A with contiguous rows).
template <class T, int MR>
struct RowsInPlace {
  const T* row[MR];
  LSTMFAST_INLINE RowsInPlace(const T* a, index_t lda) {
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m) row[m] = a + m * lda;
  }
  LSTMFAST_INLINE T operator()(int m, index_t k) const { return row[m][k]; }
};

// One multiply-add of the tile: acc += a(m, k) * panel[k][v] in T (Fma), or,
// on CPUs with AVX512_BF16, over a pair of k at once from bfloat16 pairs
// (Bf16Pairs, bf16.h). A: what one row of A holds per k; W: a panel element.
template <class T>
struct Fma {
  using A = T;
  using W = T;
  static LSTMFAST_INLINE V<T> load(const W* p) { return loadu<T>(p); }
  static LSTMFAST_INLINE V<T> broadcast(A a) { return set1<T>(a); }
  static LSTMFAST_INLINE void madd(V<T>& acc, V<T> a, V<T> w) { acc += a * w; }
};

template <class T, int MR, int NV>
struct Tile {
  V<T> acc[MR][NV];

  LSTMFAST_INLINE void zero() {
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[m][v] = V<T>{};
  }

  // accumulate(K, RowsInPlace(a, lda), panel) with the K loop split S ways:
  // S independent sets of accumulators (k = s mod S) added at the end as
  // ((p0 + p1) + p2) + ...
  // A tile of one or two rows has only NV to 2 NV chains of dependent FMAs,
  // so it waits on FMA latency; splitting K gives the core S times as many.
  // The sum order depends on S alone, which the callers derive from the
  // batch size, never from the thread count.
  template <int S, class Op = Fma<T>>
  LSTMFAST_INLINE void accumulate_rows_split(index_t K, const typename Op::A* a, index_t lda,
                                             const typename Op::W* panel) {
    if constexpr (S == 1) {
      accumulate<Op>(K, RowsInPlace<typename Op::A, MR>(a, lda), panel);
    } else {
      constexpr int W = kWidth<T>;
      V<T> part[S][MR][NV];
#pragma GCC unroll 4
      for (int p = 0; p < S; ++p)
#pragma GCC unroll 4
        for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) part[p][m][v] = p == 0 ? acc[m][v] : V<T>{};
      index_t k = 0;
      for (; k + S <= K; k += S) {
#pragma GCC unroll 4
        for (int p = 0; p < S; ++p)
#pragma GCC unroll 4
          for (int m = 0; m < MR; ++m) {
            const V<T> am = Op::broadcast(a[m * lda + k + p]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) Op::madd(part[p][m][v], am, Op::load(panel + ((k + p) * NV + v) * W));
          }
      }
      for (; k < K; ++k)
#pragma GCC unroll 4
        for (int m = 0; m < MR; ++m) {
          const V<T> am = Op::broadcast(a[m * lda + k]);
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) Op::madd(part[0][m][v], am, Op::load(panel + (k * NV + v) * W));
        }
#pragma GCC unroll 4
      for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          V<T> sum = part[0][m][v];
#pragma GCC unroll 4
          for (int p = 1; p < S; ++p) sum += part[p][m][v];
          acc[m][v] = sum;
        }
    }
  }

  // Partial sums parked between K chunks: row m at p + m * ld.
  LSTMFAST_INLINE void load(const T* p, index_t ld) {
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[m][v] = loadu<T>(p + m * ld + v * kWidth<T>);
  }

  LSTMFAST_INLINE void store(T* p, index_t ld) const {
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) storeu<T>(p + m * ld + v * kWidth<T>, acc[m][v]);
  }

  // Copies the accumulators out (rows out[0..MR)), so an epilogue can index
  // rows at run time without forcing `acc` itself out of registers during
  // accumulate().
  LSTMFAST_INLINE void spill(V<T> (*out)[NV]) const {
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) out[m][v] = acc[m][v];
  }

  // acc[m][v] += sum_k A(m, k) * panel[k][v], panel rows of NV vectors
  // ldp elements apart (packed: contiguous); A is PackedRows or RowsInPlace
  // (above) of Op::A.
  template <class Op = Fma<T>, class Rows>
  LSTMFAST_INLINE void accumulate(index_t K, const Rows& a, const typename Op::W* panel,
                                  index_t ldp = index_t(NV) * kWidth<T>) {
    constexpr int W = kWidth<T>;
    for (index_t k = 0; k < K; ++k) {
      V<T> w[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) w[v] = Op::load(panel + k * ldp + v * W);
#pragma GCC unroll 16
      for (int m = 0; m < MR; ++m) {
        const V<T> am = Op::broadcast(a(m, k));
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) Op::madd(acc[m][v], am, w[v]);
      }
    }
  }
};

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
