// Products with a weight matrix read as it is stored, one row (one output
// unit) at a time: out[b][m] = sum_k w[m][k] a[b][k] (+ bias[m]). For a
// single step of a few sequences (streaming), where packing W_hh into the
// panels of the time loop (plans.h) costs more than the product itself: the
// rows are contiguous in k, so each output is a dot product, and W rows at a
// time are folded into one vector of W outputs.
#pragma once

#include <utility>

#include "buffer.h"
#include "simd.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// One level of the fold: x and y each hold kWidth/S blocks of S lanes; the
// result holds, block by block, x's blocks 2q and 2q+1 summed, then y's.
constexpr int fold_lane(int width, int s, bool odd, int i) {
  const int p = i / s, o = i % s;
  return (p % 2) * width + (2 * (p / 2) + (odd ? 1 : 0)) * s + o;
}

template <class T, int S, std::size_t... I>
LSTMFAST_INLINE V<T> fold_pair(V<T> x, V<T> y, std::index_sequence<I...>) {
  constexpr int W = kWidth<T>;
  return __builtin_shufflevector(x, y, fold_lane(W, S, false, static_cast<int>(I))...) +
         __builtin_shufflevector(x, y, fold_lane(W, S, true, static_cast<int>(I))...);
}

// Called with N = width vectors of partial sums, one per output: returns the
// sums, one output per lane. A level with N vectors, each holding width/N
// outputs' partial sums in blocks of N lanes, halves the blocks and the
// vectors. Pairing neighbours leaves the outputs in bit-reversed order, so
// the caller puts output bit_reversed(i) in acc[i].
template <class T, int N>
LSTMFAST_INLINE V<T> fold(V<T> (&acc)[N]) {
  if constexpr (N == 1) {
    return acc[0];
  } else {
    constexpr int S = N / 2;
    V<T> half[N / 2];
    for (int i = 0; i < N / 2; ++i)
      half[i] = fold_pair<T, S>(acc[2 * i], acc[2 * i + 1], std::make_index_sequence<kWidth<T>>{});
    return fold<T, N / 2>(half);
  }
}

constexpr int bit_reversed(int i, int bits) {
  int r = 0;
  for (int b = 0; b < bits; ++b) r |= ((i >> b) & 1) << (bits - 1 - b);
  return r;
}

constexpr int log2_of(int n) { return n <= 1 ? 0 : 1 + log2_of(n / 2); }

// One operand of a row product: B rows of a (row stride lda) against the rows
// of w (row stride ldw), K values each.
template <class T>
struct RowOperand {
  const T* a;
  index_t lda;
  const T* w;
  index_t ldw;
  index_t K;
};

// P batch rows against R = W/P rows of w over all K of each operand in turn
// (wr[s][0..R) the rows of operand s): the W accumulators of one fold, lane
// p*R + j the sum for batch row b0 + p and weight row j, so each loaded vector
// of w serves P batch rows. Writes the first `rows` of the R outputs of each
// batch row (+ bias).
template <class T, int P, int S>
LSTMFAST_INLINE void row_products_tile(index_t b0, const RowOperand<T> (&ops)[S], const T* const (&wr)[S][kWidth<T>],
                                       const T* bias, int rows, T* out, index_t ldo) {
  constexpr int W = kWidth<T>, R = W / P, L = log2_of(W);
  V<T> acc[W] = {};
  for (int s = 0; s < S; ++s) {
    const RowOperand<T>& op = ops[s];
    const index_t k_full = op.K - op.K % W;
    const int k_tail = static_cast<int>(op.K - k_full);
    const T* ar[P];
    for (int p = 0; p < P; ++p) ar[p] = op.a + (b0 + p) * op.lda;
    const T* const* w = wr[s];
    auto accumulate = [&](index_t k, auto load) LSTMFAST_INLINE_LAMBDA {
      V<T> av[P];
      for (int p = 0; p < P; ++p) av[p] = load(ar[p] + k);
      if constexpr (P == 1) {
#pragma GCC unroll 16
        for (int i = 0; i < W; ++i) acc[i] += load(w[bit_reversed(i, L)] + k) * av[0];
      } else {
        V<T> wv[R];
        for (int j = 0; j < R; ++j) wv[j] = load(w[j] + k);
#pragma GCC unroll 16
        for (int i = 0; i < W; ++i) acc[i] += wv[bit_reversed(i, L) % R] * av[bit_reversed(i, L) / R];
      }
    };
    for (index_t k = 0; k < k_full; k += W) accumulate(k, [](const T* q) LSTMFAST_INLINE_LAMBDA { return loadu(q); });
    if (k_tail > 0)
      accumulate(k_full, [k_tail](const T* q) LSTMFAST_INLINE_LAMBDA { return load_partial(q, k_tail); });
  }
  T sums[W];
  storeu(sums, fold<T, W>(acc));
  for (int p = 0; p < P; ++p)
    for (int j = 0; j < rows; ++j) out[(b0 + p) * ldo + j] = sums[p * R + j] + (bias ? bias[j] : T(0));
}

// out (B rows, row stride ldo) = the sum over the S operands of a w^T
// (+ bias), for M rows of each w: one dot product per output over every
// operand's k in turn (x W_ih^T + h W_hh^T in one fold: for the few k of
// W_ih a fold of its own cost more than its products), folded in an order
// that depends on its place in the tile: a row's numbers may differ with the
// batch at rounding level (float32 ~1e-7 relative), as the packed path's do.
template <class T, int S>
void row_products(index_t B, index_t M, const RowOperand<T> (&ops)[S], const T* bias, T* out, index_t ldo) {
  constexpr int W = kWidth<T>;
  constexpr int P = W >= 8 ? 4 : W >= 4 ? 2 : 1;  // batch rows per tile (R = W/P rows of w)
  // A block of fewer rows than a tile has reads zeros for the missing ones
  // (R divides W: with M a multiple of W no block is short).
  const bool short_block = M % W != 0;
  index_t K = 0;
  for (const RowOperand<T>& op : ops) K = max_i(K, op.K);
  Buffer<T> zeros(short_block ? K + W : 1);
  if (short_block) fill_zero(zeros.get(), K + W);
  // Batch rows [b_begin, b_end) in tiles of Pt, the rows of w outermost: a
  // tile's rows of w stay in L1 while every batch tile reads them.
  auto tiles = [&](auto p_c, index_t b_begin, index_t b_end) {
    constexpr int Pt = decltype(p_c)::value, R = W / Pt;
    for (index_t m0 = 0; m0 < M; m0 += R) {
      const int rows = static_cast<int>(min_i(R, M - m0));
      const T* wr[S][W];
      for (int s = 0; s < S; ++s)
        for (int j = 0; j < W; ++j) wr[s][j] = j < rows ? ops[s].w + (m0 + j) * ops[s].ldw : zeros.get();
      for (index_t b0 = b_begin; b0 < b_end; b0 += Pt)
        row_products_tile<T, Pt, S>(b0, ops, wr, bias ? bias + m0 : nullptr, rows, out + m0, ldo);
    }
  };
  const index_t in_tiles = B - B % P;
  if (in_tiles > 0) tiles(std::integral_constant<int, P>{}, 0, in_tiles);
  if (in_tiles < B) tiles(std::integral_constant<int, 1>{}, in_tiles, B);
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
