// The register tile every product in lstmfast runs on: MR rows of A, each
// broadcast, times NV vectors of a packed weight panel, accumulated in
// MR x NV vector registers over K. The GEMM stores the tile; the recurrent
// kernels hand it to a fused epilogue (gate nonlinearities, c/h update).
#pragma once

#include "simd.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// Register-tile shapes for this vector width: MR x NV vectors, chosen so the
// accumulators, NV weight vectors and one broadcast fit in the register file
// (32 vector registers with AVX-512 and NEON, 16 with AVX2 and SSE).
#if LSTMFAST_VECTOR_BYTES == 64
constexpr int kGemmMR = 6, kGemmNV = 4;  // 24 accumulators
constexpr int kLstmMR = 6;               // x 4 gates = 24
#else
constexpr int kGemmMR = 6, kGemmNV = 2;  // 12 accumulators
constexpr int kLstmMR = 3;               // x 4 gates = 12
#endif

template <class T, int MR, int NV>
struct Tile {
  V<T> acc[MR][NV];

  void zero() {
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[m][v] = V<T>{};
  }

  // Copies the accumulators out, so an epilogue can index rows at run time
  // without forcing `acc` itself out of registers during accumulate().
  void spill(V<T> (&out)[MR][NV]) const {
#pragma GCC unroll 16
    for (int m = 0; m < MR; ++m)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) out[m][v] = acc[m][v];
  }

  // acc[m][v] += sum_k A(m, k) * panel[k][v], with A(m, k) = a[m * a_rs + k * a_cs]
  // and panel rows of NV vectors stored contiguously.
  void accumulate(index_t K, const T* a, index_t a_rs, index_t a_cs, const T* panel) {
    constexpr int W = kWidth<T>;
    for (index_t k = 0; k < K; ++k) {
      V<T> w[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) w[v] = loadu<T>(panel + (k * NV + v) * W);
      const T* ak = a + k * a_cs;
#pragma GCC unroll 16
      for (int m = 0; m < MR; ++m) {
        const V<T> am = set1<T>(ak[m * a_rs]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[m][v] += am * w[v];
      }
    }
  }
};

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
