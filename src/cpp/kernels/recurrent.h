// Shared pieces of the recurrent kernels: packed W_hh panels and the loop
// over batch-row tiles, each tile's product out of line.
#pragma once

#include "buffer.h"
#include "tile.h"
#include "transpose.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// Vectors per unit block for a layer of H units shared by `threads` threads:
// the full tile width on one thread; on several, a narrower one only where
// it gives the busiest thread at least a quarter fewer vectors (a narrower
// tile spends more broadcasts per FMA; one vector per tile row, a broadcast
// per FMA, only where H has fewer than two vectors per thread). The rule
// before, as wide as lets every thread have a block, left H = 64 on 2 threads
// with blocks of 3 and 1 vectors. The sums do not depend on the width (each
// output's K loop is the same).
template <class T>
inline int units_nv(index_t H, int threads) {
  const index_t vectors = ceil_div(H, index_t(kWidth<T>));
  const int widest = static_cast<int>(min_i(kGemmNV, vectors));
  if (threads <= 1) return widest;
  int best = widest;
  index_t least = -1;
  for (int nv = widest; nv >= (vectors >= 2 * threads ? 2 : 1); --nv) {
    const index_t busiest = ceil_div(ceil_div(vectors, index_t(nv)), index_t(threads)) * nv;
    if (least < 0 || 4 * busiest <= 3 * least) least = busiest, best = nv;
  }
  return best;
}

// Forward panel for blocks of hidden units: for block jb and each k < K,
// `nvec` vectors of W lanes holding w[row(jb, v, lane), k], where a row of w
// holds K elements (the H values of a row of W_hh, or their bfloat16 pairs:
// bf16.h). LSTM: the vectors are the gates i, f, g, o of the same W units
// (row = v*H + jb*W + lane), so one tile holds everything the cell update
// needs. RNN: nvec consecutive vectors of units (row = jb*nvec*W + v*W +
// lane). Units >= H are zero. Each vector's W rows are consecutive rows of w,
// moved by W x W tiles (transpose.h), W rows of the panel at a time so the
// stores stay in L1 (buffer.h says why).
template <int W, class E>
void pack_forward_panels(const E* w, index_t H, index_t K, int nvec, bool gate_blocks, E* out) {
  static_assert(W == kWidth<TransposeLane<E>>, "a panel vector holds one tile row");
  const index_t units_per_block = gate_blocks ? W : index_t(nvec) * W;
  const index_t blocks = ceil_div(H, units_per_block), stride = index_t(nvec) * W;
  for (index_t jb = 0; jb < blocks; ++jb) {
    E* panel = out + jb * K * stride;
    for (index_t k0 = 0; k0 < K; k0 += W) {
      const int kn = static_cast<int>(min_i(W, K - k0));
      for (int v = 0; v < nvec; ++v) {
        const index_t unit = gate_blocks ? jb * W : jb * units_per_block + v * W;  // the first lane's
        const int rows = static_cast<int>(max_i(0, min_i(W, H - unit)));
        const E* src = rows > 0 ? w + (gate_blocks ? v * H + unit : unit) * K + k0 : w;  // rows = 0: not read
        transpose_tile(src, K, rows, kn, panel + k0 * stride + v * W, stride, W);
      }
    }
  }
}

// Backward panel: the product dG<t> W_hh needs, for each block of nv*W units
// and every row k of W_hh (K rows), the row's slice over those units.
template <class T>
void pack_backward_panels(const T* w, index_t K, index_t H, int nv, T* out) {
  constexpr int W = kWidth<T>;
  const index_t width = index_t(nv) * W;
  const index_t blocks = ceil_div(H, width);
  for (index_t jb = 0; jb < blocks; ++jb) {
    T* panel = out + jb * K * width;
    const index_t j = jb * width;
    const index_t n = min_i(width, H - j);
    for (index_t k = 0; k < K; ++k) {
      copy(panel + k * width, w + k * H + j, n);
      fill_zero(panel + k * width + n, width - n);
    }
  }
}

// K rows of a panel per chunk: NV vectors x kc rows = 128 KiB, so a chunk
// stays in L2 while every row tile of the batch streams through it (an
// unchunked LSTM backward panel at H = 1024 is 1 MiB and came from L3).
// Measured on Zen 5 against 32, 64 and 256 KiB: within noise for the forward,
// 5-10% better for the backward at B = 8.
// (K counts Op::A elements: values, or bfloat16 pairs.)
template <class T, int NV, class Op = Fma<T>>
constexpr index_t recurrent_kc() {
  return 131072 / (index_t(NV) * kWidth<T> * index_t(sizeof(typename Op::W)));
}

// One row tile of a recurrent product over one K chunk: start from zero
// (first chunk) or the parked partial sums, accumulate, then park the sums
// again or, after the last chunk, write the finished tile to out[0..R). Out of
// line so the accumulators get the register file to themselves. Not templated
// on the epilogue: these tiles (every row count 1..MR and K split) serve the
// tail of a batch and batches of 1 to 3 rows, and a cell's math compiled into
// each of them was 84% of the kernels' code and most of their compile time.
template <class T, int R, int NV, int S, class Op>
__attribute__((noinline)) void recurrent_tile(index_t kn, const typename Op::A* a, index_t lda,
                                              const typename Op::W* panel, T* partial, index_t ldp, bool first,
                                              bool last, V<T> (*out)[NV]) {
  Tile<T, R, NV> t;
  if (first) t.zero();
  else t.load(partial, ldp);
  if (kn > 0) t.template accumulate_rows_split<S, Op>(kn, a, lda, panel);
  if (last) t.spill(out);
  else t.store(partial, ldp);
}

// The full tile of MR rows with K unsplit (batches of more than 3 rows, so
// nearly all the work of a large batch), which calls the epilogue itself:
// one instantiation per epilogue. Measured on Zen 5 with AVX-512, the generic
// tile followed by the epilogue in the caller ran 5-8% slower once K is
// chunked (LSTM forward at H = 1024), with the same instructions (equal
// callgrind counts on the AVX2 build, which showed no difference).
template <class T, int R, int NV, class Op, class Epilogue>
__attribute__((noinline)) void recurrent_tile_fused(index_t kn, const typename Op::A* a, index_t lda,
                                                    const typename Op::W* panel, T* partial, index_t ldp, bool first,
                                                    bool last, index_t b0, const Epilogue& ep) {
  Tile<T, R, NV> t;
  if (first) t.zero();
  else t.load(partial, ldp);
  if (kn > 0) t.template accumulate<Op>(kn, RowsInPlace<typename Op::A, R>(a, lda), panel);
  if (!last) {
    t.store(partial, ldp);
    return;
  }
  V<T> out[R][NV];
  t.spill(out);
  ep(out, R, b0);
}

template <class T, int NV, class Op>
using RecurrentTile = void (*)(index_t, const typename Op::A*, index_t, const typename Op::W*, T*, index_t, bool,
                               bool, V<T> (*)[NV]);

template <class T, int R, int NV, int S, class Op>
RecurrentTile<T, NV, Op> tile_of_rows(int rows) {
  if constexpr (R > 1) {
    if (rows < R) return tile_of_rows<T, R - 1, NV, S, Op>(rows);
  }
  return &recurrent_tile<T, R, NV, S, Op>;
}

// The generic tile for `rows` rows of a batch of B rows, with K split S ways
// (Tile::accumulate_rows_split): enough independent accumulators for tiny
// batches, whose one tile has one to three rows. S depends on B alone, never
// on the thread count.
template <class T, int MR, int NV, class Op>
RecurrentTile<T, NV, Op> tile_for(index_t B, int rows) {
  if (B == 1) return &recurrent_tile<T, 1, NV, 4, Op>;
  if (B <= 3) return tile_of_rows<T, 3, NV, 2, Op>(rows);
  return tile_of_rows<T, MR, NV, 1, Op>(rows);
}

// out (B rows x NV*W columns) = A (B x K, row b at a + b*lda) x panel (K rows
// of NV vectors), then ep(tile, rows, b0) for each row tile: tile[m][v] for
// its rows m < rows, the first of them b0. K may be 0 (the epilogue then sees
// zeros). `partial` holds B x NV*W parked sums. K and lda count Op::A
// elements (Fma: values of A; bfloat16 pairs: pairs of them).
template <class T, int MR, int NV, class Op = Fma<T>, class Epilogue>
void recurrent_block(index_t B, index_t K, const typename Op::A* a, index_t lda, const typename Op::W* panel,
                     T* partial, const Epilogue& ep) {
  constexpr int W = kWidth<T>;
  constexpr index_t kc = recurrent_kc<T, NV, Op>(), ldp = index_t(NV) * W;
  const index_t chunks = K > 0 ? ceil_div(K, kc) : 1;
  static_assert(MR >= 3, "a batch of up to 3 rows is one generic tile");
  // Full tiles of a batch of more than 3 rows run fused; the generic tile
  // takes the rest: a batch of at most 3 rows, else the tail.
  const int generic_rows = static_cast<int>(B <= 3 ? B : B % MR);
  const RecurrentTile<T, NV, Op> generic = generic_rows > 0 ? tile_for<T, MR, NV, Op>(B, generic_rows) : nullptr;
  V<T> out[MR][NV];
  for (index_t c = 0; c < chunks; ++c) {
    const index_t k0 = c * kc, kn = min_i(kc, K - k0);
    const bool last = c == chunks - 1;
    for (index_t b0 = 0; b0 < B; b0 += MR) {
      const int rows = static_cast<int>(min_i(MR, B - b0));
      const typename Op::A* ak = kn > 0 ? a + b0 * lda + k0 : a;
      if (B > 3 && rows == MR) {
        recurrent_tile_fused<T, MR, NV, Op>(kn, ak, lda, panel + k0 * ldp, partial + b0 * ldp, ldp, c == 0, last, b0, ep);
        continue;
      }
      generic(kn, ak, lda, panel + k0 * ldp, partial + b0 * ldp, ldp, c == 0, last, out);
      if (last) ep(out, rows, b0);
    }
  }
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
