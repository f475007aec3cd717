// Blocked GEMM (Goto's algorithm): C (M, N) = A (M, K) B (K, N) [+ C] [+ bias].
//
// A and B are read through row/column strides, so transposed operands cost
// nothing extra. B is packed into NR-wide panels (kc x NR each); A is read in
// place when its rows are contiguous, else packed into MR-row panels; the
// register tile of tile.h runs over them. The tile is MR x NV vectors, with NV
// narrowed for narrow C so padding does not waste most of it.
//
// Every element of C is the same chain of operations whatever the thread
// count or its position in a tile (K is blocked at fixed offsets, padded
// lanes are zero): results are bit-identical across thread counts.
#pragma once

#include "buffer.h"
#include "parallel.h"
#include "row_products.h"
#include "tile.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

template <class T>
struct GemmShape {
  // Deep K blocks (each pass over K re-reads and re-writes C, which for the
  // LSTM's T*B-row products lives in memory): a kc x NR panel of B and an
  // mc x kc block of A each take ~256 KiB of L2; the tile streams B from L2,
  // which has the bandwidth for NV loads per MR*NV FMAs. Tuned on Zen 5
  // (48 KiB L1, 1 MiB L2): kc 128 -> 1024 took the projection GEMM from
  // ~175 to ~230 GFLOP/s on one core.
  static constexpr index_t KC = 1024;
  static constexpr index_t MC = (262144 / (KC * sizeof(T))) / kGemmMR * kGemmMR;
  // A kc x nc block of B is packed once and read by every mc block of A, so
  // it must stay in the last-level cache: columns per block are what fits in
  // 2 MiB (rounded down to whole panels). On Zen 5, 1 thread, at kc = 1024:
  // 4096 columns (16 MiB) ran GEMMs with N >= 3000 at 200-215 GFLOP/s, 2 MiB
  // or 4 MiB at 234-245; 2 MiB also fits CPUs with less L3 per core.
  static constexpr index_t kBBlockBytes = index_t(2) << 20;
};

// Tile width in vectors for N columns: the full tile unless C is narrower.
template <class T>
inline int gemm_nv(index_t N) {
  return static_cast<int>(min_i(kGemmNV, max_i(1, ceil_div(N, kWidth<T>))));
}

// C at most half a vector wide (the LSTM's dx for a few input features, a
// head with one output), with A's rows contiguous: each element is one dot
// product (narrow_gemm_rows) instead of a register tile that would spend a
// vector of W columns on N of them (dx at T=30, B=32, I=1, H=64 took 40 us
// of a 390 us BPTT at 1/16 of the lanes). Measured on Zen 5, float32 with
// AVX-512, K = 256 and 512, 256 and 6400 rows: 2.6-4.7x faster than the tile
// at N = 1, 1.3-2.7x at N = 2, 2.5-3x at N = 4, 1.7-1.9x at N = 8.
template <class T>
inline bool gemm_is_narrow(const GemmArgs<T>& g) {
  return 2 * g.N <= kWidth<T> && g.K > 0 && g.a_cs == 1 && !g.a2;
}

// How one GEMM is blocked and split across threads.
template <class T>
struct GemmPlan {
  int nv;
  index_t nr, kc, mc, nc;
  bool split_n;     // threads take column ranges (else row ranges)
  index_t a_elems;  // per-thread packing buffers
  index_t b_elems;

  GemmPlan(const GemmArgs<T>& g, int nthreads) {
    constexpr int MR = kGemmMR;
    nv = gemm_nv<T>(g.N);
    nr = index_t(nv) * kWidth<T>;
    kc = min_i(GemmShape<T>::KC, max_i(g.K, 1));
    mc = min_i(GemmShape<T>::MC, ceil_div(max_i(g.M, 1), MR) * MR);
    const index_t block_cols = max_i(nr, GemmShape<T>::kBBlockBytes / index_t(kc * sizeof(T)) / nr * nr);
    nc = min_i(block_cols, ceil_div(max_i(g.N, 1), nr) * nr);
    // Split where the packing duplicated in every thread is smaller: all of
    // A (if A must be packed) when splitting columns, all of B when rows.
    const double a_pack = (g.a_cs == 1 && !g.a2) ? 0.0 : double(g.M) * double(g.K);
    const double b_pack = double(g.K) * double(g.N);
    const index_t panels_n = ceil_div(g.N, nr), panels_m = ceil_div(g.M, MR);
    if (panels_n < nthreads) split_n = false;
    else if (panels_m < nthreads) split_n = true;
    else split_n = a_pack + b_pack / nthreads <= b_pack + a_pack / nthreads;
    a_elems = mc * kc;
    b_elems = kc * nc;
    // narrow_gemm_rows: B's columns as rows padded to whole vectors
    const index_t padded_k = ceil_div(g.K, index_t(kWidth<T>)) * kWidth<T>;
    if (gemm_is_narrow(g)) b_elems = max_i(b_elems, g.N * padded_k);
  }
};

template <class T>
LSTMFAST_INLINE const T* a_row(const GemmArgs<T>& g, index_t r, index_t& cs) {
  if (g.a2 && r >= g.a_split) {
    cs = g.a_cs2;
    return g.a2 + (r - g.a_split) * g.a_rs2;
  }
  cs = g.a_cs;
  return g.a + r * g.a_rs;
}

// Rows [i0, i0 + mc) of a kc-deep block of A, k-major in MR-row panels, zero
// past the last row. For A without contiguous rows (e.g. x^T, h^T in the
// weight gradients) or with two sources.
template <class T>
void pack_a(const GemmArgs<T>& g, index_t i0, index_t mc, index_t p0, index_t kc, T* out) {
  constexpr int MR = kGemmMR;
  for (index_t ir = 0; ir < mc; ir += MR) {
    T* panel = out + ir * kc;
    const int rows = static_cast<int>(min_i(MR, mc - ir));
    const index_t r0 = i0 + ir;
    // The common case: MR rows from one source whose columns are contiguous
    // (x^T, h^T: one k is MR adjacent values), copied k by k.
    const bool one_source = !g.a2 || r0 + MR <= g.a_split || r0 >= g.a_split;
    index_t cs;
    const T* src = a_row(g, r0, cs);
    const index_t rs = (g.a2 && r0 >= g.a_split) ? g.a_rs2 : g.a_rs;
    if (rows == MR && one_source && rs == 1) {
      src += p0 * cs;
      if constexpr (MR <= kWidth<T>) {  // a partial vector per k (LSTM BPTT at H = 64: ~3 us less a call)
        for (index_t k = 0; k < kc; ++k) store_partial<T>(panel + k * MR, load_partial<T>(src + k * cs, MR), MR);
      } else {
        for (index_t k = 0; k < kc; ++k)
#pragma GCC unroll 16
          for (int m = 0; m < MR; ++m) panel[k * MR + m] = src[k * cs + m];
      }
      continue;
    }
    for (int m = 0; m < MR; ++m) {
      if (m >= rows) {
        for (index_t k = 0; k < kc; ++k) panel[k * MR + m] = T(0);
        continue;
      }
      const T* row = a_row(g, r0 + m, cs) + p0 * cs;
      for (index_t k = 0; k < kc; ++k) panel[k * MR + m] = row[k * cs];
    }
  }
}

// A kc x nc block of B in NR-wide panels (kc x NR each), zero past column nc.
template <class T, int NR>
void pack_b(const GemmArgs<T>& g, index_t p0, index_t kc, index_t j0, index_t nc, T* out) {
  for (index_t jr = 0; jr < nc; jr += NR) {
    T* panel = out + jr * kc;
    const int cols = static_cast<int>(min_i(NR, nc - jr));
    if (cols < NR) fill_zero(panel, kc * NR);
    if (g.b_cs == 1) {  // rows of B contiguous
      const T* src = g.b + p0 * g.b_rs + j0 + jr;
      if (cols == NR) {
        for (index_t k = 0; k < kc; ++k)
#pragma GCC unroll 8
          for (int v = 0; v < NR / kWidth<T>; ++v)
            storeu<T>(panel + k * NR + v * kWidth<T>, loadu<T>(src + k * g.b_rs + v * kWidth<T>));
      } else {
        for (index_t k = 0; k < kc; ++k) copy(panel + k * NR, src + k * g.b_rs, cols);
      }
    } else {
      // A transpose (B = W^T): kTransposeRows rows of the panel at a time
      // (buffer.h).
      for (index_t k0 = 0; k0 < kc; k0 += kTransposeRows) {
        const index_t k1 = min_i(kc, k0 + kTransposeRows);
        for (int n = 0; n < cols; ++n) {
          const T* src = g.b + p0 * g.b_rs + (j0 + jr + n) * g.b_cs;
          for (index_t k = k0; k < k1; ++k) panel[k * NR + n] = src[k * g.b_rs];
        }
      }
    }
  }
}

// All of B packed once, for GEMMs that reuse it (the input projection of
// successive time chunks): K blocks of kc rows, each the full padded width.
template <class T>
index_t packed_b_elems(const GemmArgs<T>& g, const GemmPlan<T>& p) {
  return ceil_div(max_i(g.K, 1), p.kc) * p.kc * ceil_div(max_i(g.N, 1), p.nr) * p.nr;
}

template <class T>
void pack_b_all(const GemmArgs<T>& g, const GemmPlan<T>& p, T* out) {
  const index_t width = ceil_div(max_i(g.N, 1), p.nr) * p.nr;
  with_nv(p.nv, [&](auto nv) {
    constexpr int NR = decltype(nv)::value * kWidth<T>;
    for (index_t pc = 0; pc < g.K; pc += p.kc) pack_b<T, NR>(g, pc, min_i(p.kc, g.K - pc), 0, g.N, out + pc * width);
  });
}

// A kc x nc block of B that the tiles can read where it is, unpacked: rows
// contiguous, whole panels, and small enough to stay in L2 while every row
// tile of A reads it (the chunked weight gradients' dG, a few steps of rows).
// Copying it into panels first cost the LSTM's BPTT 1-5 % (Zen 5, one thread:
// T=30, B=32, H=64 333 -> 326 us; T=100, B=64, H=128 10.4 -> 10.1 ms).
constexpr index_t kUnpackedBBytes = index_t(512) << 10;

template <class T, int NR>
bool reads_b_in_place(const GemmArgs<T>& g, index_t kc, index_t nc, const T* packed_b) {
  return !packed_b && g.b_cs == 1 && nc % NR == 0 && kc * nc * index_t(sizeof(T)) <= kUnpackedBBytes;
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
// MR rows read in place (a[m*lda + k], lda > 0); B's panel rows are ldb apart.
template <class T, int NV>
__attribute__((noinline)) void gemm_micro(index_t kc, const T* a, index_t lda, const T* bp, index_t ldb, T* c,
                                          index_t ldc, int rows, int cols, bool overwrite, const T* bias) {
  Tile<T, kGemmMR, NV> t;
  t.zero();
  if (lda > 0) t.accumulate(kc, RowsInPlace<T, kGemmMR>(a, lda), bp, ldb);
  else t.accumulate(kc, PackedRows<T, kGemmMR>{a}, bp, ldb);
  store_tile(t, c, ldc, rows, cols, overwrite, bias);
}

// This thread's rows [m0, m1) x columns [n0, n1), serially. `packed_b` is all
// of B from pack_b_all, or nullptr to pack blocks into bp here.
template <class T, int NV>
void gemm_block(const GemmArgs<T>& g, const GemmPlan<T>& p, index_t m0, index_t m1, index_t n0, index_t n1, T* ap,
                T* bp, const T* packed_b) {
  constexpr int MR = kGemmMR, NR = NV * kWidth<T>;
  if (m0 >= m1 || n0 >= n1) return;
  if (g.K == 0) {
    for (index_t i = m0; i < m1; ++i)
      for (index_t j = n0; j < n1; ++j)
        if (!g.accumulate) g.c[i * g.ldc + j] = g.bias ? g.bias[j] : T(0);
    return;
  }
  const bool a_rows = g.a_cs == 1 && !g.a2;  // read A in place, row by row
  const index_t b_width = ceil_div(max_i(g.N, 1), NR) * NR;
  for (index_t jc = n0; jc < n1; jc += p.nc) {
    const index_t nc = min_i(p.nc, n1 - jc);
    for (index_t pc = 0; pc < g.K; pc += p.kc) {
      const index_t kc = min_i(p.kc, g.K - pc);
      const bool overwrite = pc == 0 && !g.accumulate;
      const T* bblock;
      const bool b_in_place = reads_b_in_place<T, NR>(g, kc, nc, packed_b);
      if (packed_b) {
        bblock = packed_b + pc * b_width + jc * kc;
      } else if (b_in_place) {
        bblock = g.b + pc * g.b_rs + jc;
      } else {
        pack_b<T, NR>(g, pc, kc, jc, nc, bp);
        bblock = bp;
      }
      // panel jr starts at bblock + jr * panel_step; its rows are ldb apart
      const index_t ldb = b_in_place ? g.b_rs : index_t(NR), panel_step = b_in_place ? index_t(1) : kc;
      for (index_t ic = m0; ic < m1; ic += p.mc) {
        const index_t mc = min_i(p.mc, m1 - ic);
        const index_t full = a_rows ? mc / MR * MR : 0;  // tiles read in place
        if (full < mc) pack_a(g, ic + full, mc - full, pc, kc, ap + full * kc);
        for (index_t jr = 0; jr < nc; jr += NR) {
          const int cols = static_cast<int>(min_i(NR, nc - jr));
          const T* bias = (overwrite && g.bias) ? g.bias + jc + jr : nullptr;
          for (index_t ir = 0; ir < mc; ir += MR) {
            const bool in_place = ir < full;
            const T* a = in_place ? g.a + (ic + ir) * g.a_rs + pc : ap + ir * kc;
            gemm_micro<T, NV>(kc, a, in_place ? g.a_rs : index_t(0), bblock + jr * panel_step, ldb,
                              g.c + (ic + ir) * g.ldc + jc + jr, g.ldc, static_cast<int>(min_i(MR, mc - ir)), cols,
                              overwrite, bias);
          }
        }
      }
    }
  }
}

// Rows [m0, m1) of a narrow GEMM (gemm_is_narrow), R = W/C rows of A against
// C columns of B at a time: W accumulators of lane partial sums over k, one
// per (row, column), folded into one vector of the W sums (row_products.h).
// bt holds B's columns as rows (kp = K rounded up to whole vectors, zero
// past K). Every element is the same chain of operations (its lanes over k in
// order, the same fold tree) whatever its row, M, C or the thread count.
template <class T, int C>
void narrow_gemm_block(const GemmArgs<T>& g, const T* bt, index_t kp, index_t m0, index_t m1) {
  constexpr int W = kWidth<T>, R = W / C, L = log2_of(W);
  const index_t K = g.K, k_full = K - K % W;
  const int k_tail = static_cast<int>(K - k_full);
  for (index_t i0 = m0; i0 < m1; i0 += R) {
    const int rows = static_cast<int>(min_i(R, m1 - i0));
    const T* ar[R];  // rows past m1 repeat row i0, columns past N column n0: computed, never stored
    for (int r = 0; r < R; ++r) ar[r] = g.a + (i0 + (r < rows ? r : 0)) * g.a_rs;
    for (index_t n0 = 0; n0 < g.N; n0 += C) {
      const int cols = static_cast<int>(min_i(C, g.N - n0));
      const T* br[C];
      for (int c = 0; c < C; ++c) br[c] = bt + (n0 + (c < cols ? c : 0)) * kp;
      V<T> acc[W] = {};
      // acc[i] holds output bit_reversed(i) = r*C + c, so the fold leaves
      // output r*C + c in lane r*C + c.
      for (index_t k = 0; k < k_full; k += W) {
#pragma GCC unroll 16
        for (int i = 0; i < W; ++i) {
          const int o = bit_reversed(i, L);
          acc[i] += loadu(ar[o / C] + k) * loadu(br[o % C] + k);
        }
      }
      if (k_tail > 0) {
#pragma GCC unroll 16
        for (int i = 0; i < W; ++i) {
          const int o = bit_reversed(i, L);
          acc[i] += load_partial(ar[o / C] + k_full, k_tail) * loadu(br[o % C] + k_full);
        }
      }
      T sums[W];
      storeu(sums, fold<T, W>(acc));
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
          T* out = g.c + (i0 + r) * g.ldc + n0 + c;
          const T sum = sums[r * C + c];
          *out = g.accumulate ? *out + sum : (g.bias ? sum + g.bias[n0 + c] : sum);
        }
    }
  }
}

// Rows [m0, m1) of a narrow GEMM: B's columns copied into bt, then blocks of
// up to 4 columns, so that a block's rows of A (W/C of them) stay in L1 while
// every block of columns reads them.
template <class T>
void narrow_gemm_rows(const GemmArgs<T>& g, T* bt, index_t m0, index_t m1) {
  constexpr int W = kWidth<T>;
  if (m0 >= m1) return;
  const index_t K = g.K, kp = ceil_div(K, index_t(W)) * W;
  for (index_t n = 0; n < g.N; ++n)
    for (index_t k = 0; k < kp; ++k) bt[n * kp + k] = k < K ? g.b[k * g.b_rs + n * g.b_cs] : T(0);
  if constexpr (W >= 4) {
    if (g.N >= 4) return narrow_gemm_block<T, 4>(g, bt, kp, m0, m1);
  }
  if constexpr (W >= 2) {
    if (g.N >= 2) return narrow_gemm_block<T, 2>(g, bt, kp, m0, m1);
  }
  narrow_gemm_block<T, 1>(g, bt, kp, m0, m1);
}

// Thread tid's share of the GEMM (call from every thread of a region).
template <class T>
void gemm_part(const GemmArgs<T>& g, const GemmPlan<T>& p, int tid, int nt, T* ap, T* bp,
               const T* packed_b = nullptr) {
  if (gemm_is_narrow(g) && !packed_b) {
    constexpr index_t W = kWidth<T>;
    const index_t groups = ceil_div(g.M, W);
    narrow_gemm_rows(g, bp, min_i(share_begin(groups, tid, nt) * W, g.M),
                     min_i(share_begin(groups, tid + 1, nt) * W, g.M));
    return;
  }
  with_nv(p.nv, [&](auto nv) {
    constexpr int NV = decltype(nv)::value;
    if (p.split_n) {
      const index_t panels = ceil_div(g.N, p.nr);
      const index_t n0 = min_i(share_begin(panels, tid, nt) * p.nr, g.N);
      const index_t n1 = min_i(share_begin(panels, tid + 1, nt) * p.nr, g.N);
      gemm_block<T, NV>(g, p, 0, g.M, n0, n1, ap, bp, packed_b);
    } else {
      const index_t panels = ceil_div(g.M, index_t(kGemmMR));
      const index_t m0 = min_i(share_begin(panels, tid, nt) * kGemmMR, g.M);
      const index_t m1 = min_i(share_begin(panels, tid + 1, nt) * kGemmMR, g.M);
      gemm_block<T, NV>(g, p, m0, m1, 0, g.N, ap, bp, packed_b);
    }
  });
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
  const int nt = threads_for(flops, max_i(ceil_div(g.N, kWidth<T>), ceil_div(g.M, index_t(kGemmMR))),
                             kGemmFlopsPerThread);
  const GemmPlan<T> plan(g, nt);
  GemmScratch<T> scratch(plan, nt);
  auto body = [&](int tid, int n, Barrier&) { gemm_part(g, plan, tid, n, scratch.a_for(tid), scratch.b_for(tid)); };
  run_parallel(nt, body);
}

// Each instruction set's GEMM is compiled once, in isa/table.cpp; the cells'
// units only call it (isa/bf16.cpp, a namespace of its own, calls none). Each
// of them compiling its own copy cost ~10 % of their build time.
#define LSTMFAST_GEMM_ENTRY_POINTS(prefix, T)                                                                     \
  prefix template void gemm<T>(const GemmArgs<T>&);                                                              \
  prefix template void gemm_part<T>(const GemmArgs<T>&, const GemmPlan<T>&, int, int, T*, T*, const T*);          \
  prefix template void pack_b_all<T>(const GemmArgs<T>&, const GemmPlan<T>&, T*);
LSTMFAST_GEMM_ENTRY_POINTS(extern, float)
LSTMFAST_GEMM_ENTRY_POINTS(extern, double)

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
