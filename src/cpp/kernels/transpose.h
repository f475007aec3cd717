// Matrix transposes: the weight gradients (computed transposed) and the
// packing of weights into panels (each weight row becomes a column of lanes).
// A W x W tile goes through registers: W rows loaded as vectors, log2(W)
// rounds of two-vector shuffles, W columns stored as vectors. Element by
// element, the LSTM's training step at H = 64 spent ~10 us a call packing
// W_hh and transposing dW (B = 1, one thread: 8 and 12 us per forward and
// backward call, for ~1 us of products).
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>

#include "buffer.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// The vector lane type that moves elements of E (a value, or a bfloat16 pair) bit for bit.
template <class E>
using TransposeLane = std::conditional_t<sizeof(E) == sizeof(double), double, float>;

// Lane j of the first (second) of two rows B apart after they swap their
// off-diagonal B x B blocks: one round of the transpose.
constexpr int swapped_lane(int width, int b, bool second, int j) {
  return (j & b) ? (second ? width + j : width + j - b) : (second ? j + b : j);
}

template <class L, int B, std::size_t... J>
LSTMFAST_INLINE void swap_blocks(V<L> (&v)[kWidth<L>], std::index_sequence<J...>) {
  constexpr int W = kWidth<L>;
#pragma GCC unroll 64
  for (int r = 0; r < W; ++r) {
    if (r & B) continue;
    const V<L> x = v[r], y = v[r + B];
    v[r] = __builtin_shufflevector(x, y, swapped_lane(W, B, false, static_cast<int>(J))...);
    v[r + B] = __builtin_shufflevector(x, y, swapped_lane(W, B, true, static_cast<int>(J))...);
  }
}

template <class L, int B = kWidth<L> / 2>
LSTMFAST_INLINE void transpose_registers(V<L> (&v)[kWidth<L>]) {
  if constexpr (B >= 1) {
    swap_blocks<L, B>(v, std::make_index_sequence<kWidth<L>>{});
    transpose_registers<L, B / 2>(v);
  }
}

// out[c * ldo + r] = in[r * ldi + c] for r < rows and c < cols (both at most
// the width W of E's lanes); each of the cols output rows gets `lanes` lanes,
// zero past `rows`.
template <class E>
LSTMFAST_INLINE void transpose_tile(const E* in, index_t ldi, int rows, int cols, E* out, index_t ldo, int lanes) {
  using L = TransposeLane<E>;
  static_assert(sizeof(E) == sizeof(L), "elements of 4 or 8 bytes");
  constexpr int W = kWidth<L>;
  V<L> v[W];
#pragma GCC unroll 64
  for (int r = 0; r < W; ++r) v[r] = r < rows ? load_n<L>(reinterpret_cast<const L*>(in + r * ldi), cols) : V<L>{};
  transpose_registers<L>(v);
#pragma GCC unroll 64
  for (int c = 0; c < W; ++c)
    if (c < cols) store_n<L>(reinterpret_cast<L*>(out + c * ldo), v[c], lanes);
}

// out (cols x rows) = in (rows x cols)^T.
template <class T>
void transpose(const T* in, index_t rows, index_t cols, T* out) {
  constexpr int W = kWidth<TransposeLane<T>>;
  for (index_t r0 = 0; r0 < rows; r0 += W) {
    const int rn = static_cast<int>(min_i(W, rows - r0));
    for (index_t c0 = 0; c0 < cols; c0 += W)
      transpose_tile(in + r0 * cols + c0, cols, rn, static_cast<int>(min_i(W, cols - c0)), out + c0 * rows + r0,
                     rows, rn);
  }
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
