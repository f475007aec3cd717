// Shared pieces of the recurrent kernels: packed W_hh panels and the loop
// over batch-row tiles with a compile-time tile height.
#pragma once

#include <type_traits>

#include "buffer.h"
#include "tile.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// Calls f(std::integral_constant<int, R>, b0) for row tiles [b0, b0 + R) of
// B rows: R = MR while it fits, then one tile of the remaining rows.
template <int MR, class F>
inline void call_tail(int rows, index_t b0, F& f) {
  if constexpr (MR > 0) {
    if (rows == MR) f(std::integral_constant<int, MR>{}, b0);
    else call_tail<MR - 1>(rows, b0, f);
  }
}

template <int MR, class F>
inline void for_row_tiles(index_t B, F&& f) {
  index_t b0 = 0;
  for (; b0 + MR <= B; b0 += MR) f(std::integral_constant<int, MR>{}, b0);
  if (b0 < B) call_tail<MR - 1>(static_cast<int>(B - b0), b0, f);
}

// Vectors per unit block for a layer of H units: as wide as the register
// tile allows, but narrow enough that `threads` threads each get a block.
template <class T>
inline int units_nv(index_t H, int threads) {
  constexpr int W = kWidth<T>;
  int nv = static_cast<int>(min_i(kGemmNV, ceil_div(H, W)));
  while (nv > 1 && ceil_div(H, index_t(nv) * W) < threads) --nv;
  return nv;
}

// Forward panel for blocks of `unit_w` hidden units: for block jb and each
// k < H, `nvec` vectors holding w[row(jb, v, lane), k]. LSTM: the vectors are
// the gates i, f, g, o of the same W units (row = v*H + jb*W + lane), so one
// tile holds everything the cell update needs. RNN: nvec consecutive
// vectors of units (row = jb*nvec*W + v*W + lane). Units >= H are zero.
template <class T>
void pack_forward_panels(const T* w, index_t H, int nvec, bool gate_blocks, T* out) {
  constexpr int W = kWidth<T>;
  const index_t units_per_block = gate_blocks ? W : index_t(nvec) * W;
  const index_t blocks = ceil_div(H, units_per_block);
  for (index_t jb = 0; jb < blocks; ++jb) {
    T* panel = out + jb * H * nvec * W;
    for (int v = 0; v < nvec; ++v)
      for (int lane = 0; lane < W; ++lane) {
        const index_t unit = gate_blocks ? jb * W + lane : jb * units_per_block + v * W + lane;
        const index_t row = gate_blocks ? v * H + unit : unit;
        T* dst = panel + v * W + lane;
        const index_t stride = index_t(nvec) * W;
        if (unit < H) {
          const T* src = w + row * H;
          for (index_t k = 0; k < H; ++k) dst[k * stride] = src[k];
        } else {
          for (index_t k = 0; k < H; ++k) dst[k * stride] = T(0);
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
template <class T, int NV>
constexpr index_t recurrent_kc() {
  return 131072 / (index_t(NV) * kWidth<T> * index_t(sizeof(T)));
}

// One row tile of a recurrent product over one K chunk: start from zero
// (first chunk) or the parked partial sums, accumulate, then park the sums
// again or, after the last chunk, hand the finished tile to the epilogue as
// out[R][NV] with its first row b0. Out of line so the accumulators get the
// register file to themselves.
template <class T, int R, int NV, int S, class Epilogue>
__attribute__((noinline)) void recurrent_tile(index_t kn, const T* a, index_t lda, const T* panel, T* partial,
                                              index_t ldp, bool first, bool last, index_t b0, const Epilogue& ep) {
  Tile<T, R, NV> t;
  if (first) t.zero();
  else t.load(partial, ldp);
  if (kn > 0) t.template accumulate_rows_split<S>(kn, a, lda, panel);
  if (!last) {
    t.store(partial, ldp);
    return;
  }
  V<T> out[R][NV];
  t.spill(out);
  ep(out, b0);
}

// How many ways to split K in the tiles of a batch of B rows (see
// Tile::accumulate_rows_split): enough independent accumulators for tiny
// batches, where the tiles have one to three rows.
template <int S>
struct KSplit {};

template <class F>
LSTMFAST_INLINE void with_ksplit(index_t B, F&& f) {
  if (B == 1) f(KSplit<4>{});
  else if (B <= 3) f(KSplit<2>{});
  else f(KSplit<1>{});
}

template <class T, int MR, int NV, int S, class Epilogue>
void recurrent_block_split(KSplit<S>, index_t B, index_t K, const T* a, index_t lda, const T* panel, T* partial,
                           const Epilogue& ep) {
  constexpr int W = kWidth<T>;
  constexpr index_t kc = recurrent_kc<T, NV>(), ldp = index_t(NV) * W;
  const index_t chunks = K > 0 ? ceil_div(K, kc) : 1;
  for (index_t c = 0; c < chunks; ++c) {
    const index_t k0 = c * kc, kn = min_i(kc, K - k0);
    for_row_tiles<MR>(B, [&](auto rows, index_t b0) {
      constexpr int R = decltype(rows)::value;
      recurrent_tile<T, R, NV, S>(kn, kn > 0 ? a + b0 * lda + k0 : a, lda, panel + k0 * ldp, partial + b0 * ldp,
                                  ldp, c == 0, c == chunks - 1, b0, ep);
    });
  }
}

// out (B rows x NV*W columns) = A (B x K, row b at a + b*lda) x panel (K rows
// of NV vectors), then ep(out_tile, b0) for each row tile. K may be 0 (the
// epilogue then sees zeros). `partial` holds B x NV*W parked sums.
template <class T, int MR, int NV, class Epilogue>
void recurrent_block(index_t B, index_t K, const T* a, index_t lda, const T* panel, T* partial,
                     const Epilogue& ep) {
  with_ksplit(B, [&](auto split) { recurrent_block_split<T, MR, NV>(split, B, K, a, lda, panel, partial, ep); });
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
