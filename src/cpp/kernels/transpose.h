// A blocked matrix transpose (the weight gradients are computed transposed).
#pragma once

#include "buffer.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// out (cols x rows) = in (rows x cols)^T, in 32 x 32 blocks so both sides
// move whole cache lines.
template <class T>
void transpose(const T* in, index_t rows, index_t cols, T* out) {
  constexpr index_t kBlock = 32;
  for (index_t r0 = 0; r0 < rows; r0 += kBlock)
    for (index_t c0 = 0; c0 < cols; c0 += kBlock)
      for (index_t c = c0; c < min_i(c0 + kBlock, cols); ++c)
        for (index_t r = r0; r < min_i(r0 + kBlock, rows); ++r) out[c * rows + r] = in[r * cols + c];
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
