// What the epilogues of the recurrent products share: where a cell's math
// works, and the epilogue of tiles that hold NV vectors of consecutive hidden
// units (the RNN forward, every backward), which calls the cell's per-unit
// math on each vector of the finished tile.
#pragma once

#include "buffer.h"
#include "simd.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// Where a cell's epilogue works: batch row r at natural time tn, whose row
// of the (T, B, .) arrays is `row` = tn * B + r, units u.. of the lanes.
struct At {
  index_t r, u, tn, row;
};

// An epilogue over a tile of NV vectors of units (block jb of NV*W units):
// calls unit(lanes, tile[m][v], row, first unit) for every row and every
// vector inside H. Blocks inside H take the branch-free full-lane path.
// Holds `unit` by value, like the forward's epilogues (forward_pass.h).
template <class T, int NV, class Unit>
auto units_epilogue(index_t jb, index_t H, const Unit& unit) {
  return [jb, H, unit](const auto& tile, int rows, index_t b0) LSTMFAST_INLINE_LAMBDA {
    constexpr int W = kWidth<T>;
    const index_t u0 = jb * NV * W;
    if (u0 + NV * W <= H) {
      for (int m = 0; m < rows; ++m)
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) unit(Lanes<true>{W}, tile[m][v], b0 + m, u0 + v * W);
      return;
    }
    for (int m = 0; m < rows; ++m)
      for (int v = 0; v < NV && u0 + v * W < H; ++v)
        unit(Lanes<false>{static_cast<int>(min_i(W, H - u0 - v * W))}, tile[m][v], b0 + m, u0 + v * W);
  };
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
