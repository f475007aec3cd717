// Blocked GEMM (Goto's algorithm): C (M, N) = A (M, K) B (K, N) [+ C] [+ bias].
//
// A and B are read through row/column strides, so transposed operands cost
// nothing extra: packing copies a kc x nc block of B into NR-wide panels
// (kept in L1 while the tile sweeps M) and an mc x kc block of A into MR-row
// panels (L2), then the register tile of tile.h runs over them.
//
// Every element of C is the same chain of operations whatever the thread
// count or its position in a tile (K is blocked at fixed offsets, padded
// lanes are zero): results are bit-identical across thread counts.
#pragma once

#include "buffer.h"
#include "parallel.h"
#include "tile.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

template <class T>
struct GemmShape {
  static constexpr int MR = kGemmMR;
  static constexpr int NV = kGemmNV;
  static constexpr int NR = NV * kWidth<T>;
  // Deep K blocks (each pass over K re-reads and re-writes C, which for the
  // LSTM's T*B-row products lives in memory): a kc x NR panel of B and an
  // mc x kc block of A each take ~256 KiB of L2; the tile streams B from L2,
  // which has the bandwidth for NV loads per MR*NV FMAs. Tuned on Zen 5
  // (48 KiB L1, 1 MiB L2): kc 128 -> 1024 took the projection GEMM from
  // ~175 to ~230 GFLOP/s on one core.
  static constexpr index_t KC = (262144 / (NR * sizeof(T))) < 1024 ? (262144 / (NR * sizeof(T))) : 1024;
  static constexpr index_t MC = (262144 / (KC * sizeof(T))) / MR * MR;
  static constexpr index_t NC = 4096 / NR * NR;
};

// How one GEMM is split across threads, and its packing buffer sizes.
template <class T>
struct GemmPlan {
  using S = GemmShape<T>;
  index_t kc, mc, nc;
  bool split_n;     // threads take column ranges (else row ranges)
  index_t a_elems;  // per-thread packing buffers
  index_t b_elems;

  GemmPlan(const GemmArgs<T>& g, int nthreads) {
    kc = min_i(S::KC, max_i(g.K, 1));
    mc = min_i(S::MC, ceil_div(max_i(g.M, 1), S::MR) * S::MR);
    nc = min_i(S::NC, ceil_div(max_i(g.N, 1), S::NR) * S::NR);
    const index_t panels_n = ceil_div(g.N, S::NR), panels_m = ceil_div(g.M, S::MR);
    split_n = panels_n >= 2 * nthreads || panels_n >= panels_m;
    a_elems = mc * kc;
    b_elems = kc * nc;
  }
};

// A rows m of a kc-deep block, k-major in MR-row panels, zero past the last
// row. Only for A with contiguous columns (a_rs == 1, e.g. dG^T): there each
// k's MR values are adjacent, while reading them in place would touch a new
// page per k. A with contiguous rows is read in place (gemm_block).
template <class T>
void pack_a_columns(const GemmArgs<T>& g, index_t i0, index_t mc, index_t p0, index_t kc, T* out) {
  constexpr int MR = GemmShape<T>::MR;
  for (index_t ir = 0; ir < mc; ir += MR) {
    T* panel = out + ir * kc;
    const int rows = static_cast<int>(min_i(MR, mc - ir));
    const T* src = g.a + (i0 + ir) + p0 * g.a_cs;
    if (rows == MR) {
      for (index_t k = 0; k < kc; ++k)
#pragma GCC unroll 16
        for (int m = 0; m < MR; ++m) panel[k * MR + m] = src[k * g.a_cs + m];
    } else {
      for (index_t k = 0; k < kc; ++k)
        for (int m = 0; m < MR; ++m) panel[k * MR + m] = m < rows ? src[k * g.a_cs + m] : T(0);
    }
  }
}

// The last rows < MR of A with contiguous rows, as one zero-padded panel.
template <class T>
void pack_a_tail(const GemmArgs<T>& g, index_t i0, int rows, index_t p0, index_t kc, T* out) {
  constexpr int MR = GemmShape<T>::MR;
  for (index_t k = 0; k < kc; ++k)
    for (int m = 0; m < MR; ++m) out[k * MR + m] = m < rows ? g.a[(i0 + m) * g.a_rs + (p0 + k) * g.a_cs] : T(0);
}

// A kc x nc block of B in NR-wide panels (kc x NR each), zero past column nc.
template <class T>
void pack_b(const GemmArgs<T>& g, index_t p0, index_t kc, index_t j0, index_t nc, T* out) {
  constexpr int NR = GemmShape<T>::NR;
  for (index_t jr = 0; jr < nc; jr += NR) {
    T* panel = out + jr * kc;
    const int cols = static_cast<int>(min_i(NR, nc - jr));
    if (cols < NR) fill_zero(panel, kc * NR);
    if (g.b_cs == 1) {  // rows of B contiguous
      for (index_t k = 0; k < kc; ++k) copy(panel + k * NR, g.b + (p0 + k) * g.b_rs + j0 + jr, cols);
    } else {
      for (int n = 0; n < cols; ++n) {
        const T* src = g.b + p0 * g.b_rs + (j0 + jr + n) * g.b_cs;
        for (index_t k = 0; k < kc; ++k) panel[k * NR + n] = src[k * g.b_rs];
      }
    }
  }
}

// All of B packed once, for GEMMs that reuse it (the input projection of
// successive time chunks): K blocks of kc rows, each the full padded width.
template <class T>
index_t packed_b_elems(const GemmArgs<T>& g, const GemmPlan<T>& p) {
  return ceil_div(g.K, p.kc) * p.kc * ceil_div(max_i(g.N, 1), GemmShape<T>::NR) * GemmShape<T>::NR;
}

template <class T>
void pack_b_all(const GemmArgs<T>& g, const GemmPlan<T>& p, T* out) {
  const index_t width = ceil_div(max_i(g.N, 1), GemmShape<T>::NR) * GemmShape<T>::NR;
  for (index_t pc = 0; pc < g.K; pc += p.kc) pack_b(g, pc, min_i(p.kc, g.K - pc), 0, g.N, out + pc * width);
}

// C tile rows: overwrite (first K block, not accumulating; plus bias) or add.
template <class T, int MR, int NV>
LSTMFAST_INLINE void store_tile(const Tile<T, MR, NV>& t, T* c, index_t ldc, int rows, int cols, bool overwrite,
                                const T* bias) {
  constexpr int W = kWidth<T>;
  // Constant trip counts (with guards) so `t.acc` is only ever indexed by
  // constants and stays in registers.
#pragma GCC unroll 16
  for (int m = 0; m < MR; ++m) {
    if (m >= rows) break;
    T* cm = c + m * ldc;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const int n = cols - v * W;
      if (n <= 0) break;
      const int nn = n < W ? n : W;
      V<T> r = t.acc[m][v];
      if (!overwrite) r = load_n<T>(cm + v * W, nn) + r;
      else if (bias) r = r + load_n<T>(bias + v * W, nn);
      store_n<T>(cm + v * W, r, nn);
    }
  }
}

// One register tile over a kc-deep block, stored into C. Kept out of line so
// the register allocator sees only the tile (inlined into the blocking loops
// it spilled accumulators to the stack). A is a packed panel (a[k*MR + m]) or
// MR rows read in place (a[m*lda + k], lda > 0).
template <class T>
__attribute__((noinline)) void gemm_micro(index_t kc, const T* a, index_t lda, const T* bp, T* c, index_t ldc,
                                          int rows, int cols, bool overwrite, const T* bias) {
  using S = GemmShape<T>;
  Tile<T, S::MR, S::NV> t;
  t.zero();
  if (lda > 0) t.accumulate_rows(kc, a, lda, bp);
  else t.accumulate_packed(kc, a, bp);
  store_tile(t, c, ldc, rows, cols, overwrite, bias);
}

// This thread's rows [m0, m1) x columns [n0, n1), serially. `packed_b` is all
// of B from pack_b_all, or nullptr to pack blocks into bp here.
template <class T>
void gemm_block(const GemmArgs<T>& g, const GemmPlan<T>& p, index_t m0, index_t m1, index_t n0, index_t n1, T* ap,
                T* bp, const T* packed_b) {
  using S = GemmShape<T>;
  if (m0 >= m1 || n0 >= n1) return;
  if (g.K == 0) {
    for (index_t i = m0; i < m1; ++i)
      for (index_t j = n0; j < n1; ++j)
        if (!g.accumulate) g.c[i * g.ldc + j] = g.bias ? g.bias[j] : T(0);
    return;
  }
  const bool a_rows = g.a_cs == 1;  // read A in place, row by row
  const index_t b_width = ceil_div(max_i(g.N, 1), S::NR) * S::NR;
  for (index_t jc = n0; jc < n1; jc += p.nc) {
    const index_t nc = min_i(p.nc, n1 - jc);
    for (index_t pc = 0; pc < g.K; pc += p.kc) {
      const index_t kc = min_i(p.kc, g.K - pc);
      const bool overwrite = pc == 0 && !g.accumulate;
      const T* bblock;
      if (packed_b) {
        bblock = packed_b + pc * b_width + jc * kc;
      } else {
        pack_b(g, pc, kc, jc, nc, bp);
        bblock = bp;
      }
      for (index_t ic = m0; ic < m1; ic += p.mc) {
        const index_t mc = min_i(p.mc, m1 - ic);
        const index_t full = mc / S::MR * S::MR;
        if (!a_rows) pack_a_columns(g, ic, mc, pc, kc, ap);
        else if (full < mc) pack_a_tail(g, ic + full, static_cast<int>(mc - full), pc, kc, ap + full * kc);
        for (index_t jr = 0; jr < nc; jr += S::NR) {
          const int cols = static_cast<int>(min_i(S::NR, nc - jr));
          const T* bias = (overwrite && g.bias) ? g.bias + jc + jr : nullptr;
          for (index_t ir = 0; ir < mc; ir += S::MR) {
            const bool in_place = a_rows && ir < full;
            const T* a = in_place ? g.a + (ic + ir) * g.a_rs + pc : ap + ir * kc;
            gemm_micro(kc, a, in_place ? g.a_rs : index_t(0), bblock + jr * kc, g.c + (ic + ir) * g.ldc + jc + jr,
                       g.ldc, static_cast<int>(min_i(S::MR, mc - ir)), cols, overwrite, bias);
          }
        }
      }
    }
  }
}

// Thread tid's share of the GEMM (call from every thread of a region).
template <class T>
void gemm_part(const GemmArgs<T>& g, const GemmPlan<T>& p, int tid, int nt, T* ap, T* bp,
               const T* packed_b = nullptr) {
  using S = GemmShape<T>;
  if (p.split_n) {
    const index_t panels = ceil_div(g.N, S::NR);
    const index_t n0 = min_i(share_begin(panels, tid, nt) * S::NR, g.N);
    const index_t n1 = min_i(share_begin(panels, tid + 1, nt) * S::NR, g.N);
    gemm_block(g, p, 0, g.M, n0, n1, ap, bp, packed_b);
  } else {
    const index_t panels = ceil_div(g.M, S::MR);
    const index_t m0 = min_i(share_begin(panels, tid, nt) * S::MR, g.M);
    const index_t m1 = min_i(share_begin(panels, tid + 1, nt) * S::MR, g.M);
    gemm_block(g, p, m0, m1, 0, g.N, ap, bp, packed_b);
  }
}

// Packing buffers for up to nt threads of one plan.
template <class T>
struct GemmScratch {
  Buffer<T> a, b;
  index_t a_stride, b_stride;
  GemmScratch(const GemmPlan<T>& p, int nt, bool b_prepacked = false)
      : a(p.a_elems * nt),
        b(b_prepacked ? 1 : p.b_elems * nt),
        a_stride(p.a_elems),
        b_stride(b_prepacked ? 0 : p.b_elems) {}
  T* a_for(int tid) const { return a.get() + tid * a_stride; }
  T* b_for(int tid) const { return b.get() + tid * b_stride; }
};

constexpr double kGemmFlopsPerThread = 2e6;

template <class T>
void gemm(const GemmArgs<T>& g) {
  if (g.M <= 0 || g.N <= 0) return;
  const double flops = 2.0 * double(g.M) * double(g.N) * double(g.K);
  const int nt = threads_for(flops, max_i(ceil_div(g.N, GemmShape<T>::NR), ceil_div(g.M, GemmShape<T>::MR)),
                             kGemmFlopsPerThread);
  const GemmPlan<T> plan(g, nt);
  GemmScratch<T> scratch(plan, nt);
  auto body = [&](int tid, int n, Barrier&) { gemm_part(g, plan, tid, n, scratch.a_for(tid), scratch.b_for(tid)); };
  run_parallel(nt, body);
}

// db[j] = sum_i a[i * lda + j] over rows in order (fixed order: deterministic).
template <class T>
void column_sums(const T* a, index_t rows, index_t cols, index_t lda, T* out) {
  constexpr int W = kWidth<T>;
  auto body = [&](int tid, int nt, Barrier&) {
    const index_t blocks = ceil_div(cols, W);
    for (index_t jb = share_begin(blocks, tid, nt); jb < share_begin(blocks, tid + 1, nt); ++jb) {
      const index_t j = jb * W;
      const int n = static_cast<int>(min_i(W, cols - j));
      V<T> s = {};
      for (index_t i = 0; i < rows; ++i) s += load_n<T>(a + i * lda + j, n);
      store_n<T>(out + j, s, n);
    }
  };
  run_parallel(threads_for(double(rows) * double(cols), ceil_div(cols, W), 1e6), body);
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
