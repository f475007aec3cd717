// Scratch memory for one call, owned by the calling thread. Allocate before
// a parallel region: nothing may throw inside one.
#pragma once

#include "../memory.h"
#include "simd.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

template <class T>
class Buffer {
 public:
  explicit Buffer(index_t n) : p_(static_cast<T*>(aligned_alloc_bytes(static_cast<std::size_t>(n), sizeof(T)))) {}
  ~Buffer() { aligned_free(p_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  T* get() const { return p_; }

 private:
  T* p_;
};

template <class T>
inline void copy(T* dst, const T* src, index_t n) {
  if (n > 0) std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(T));
}

template <class T>
inline void fill_zero(T* dst, index_t n) {
  if (n > 0) std::memset(dst, 0, static_cast<std::size_t>(n) * sizeof(T));
}

inline index_t ceil_div(index_t a, index_t b) { return (a + b - 1) / b; }
inline index_t min_i(index_t a, index_t b) { return a < b ? a : b; }
inline index_t max_i(index_t a, index_t b) { return a > b ? a : b; }

// Packing a weight matrix into panels transposes it: each weight row becomes
// a column of lanes down the panel. The packers write kTransposeRows panel
// rows at a time, every weight row of the panel contributing its slice, so
// the stores stay in L1; writing each weight row down a whole panel (128 KiB
// and more) at once missed L1 on every store: S4's W_hh and W_ih took ~10 ms
// to pack for float32, ~7 ms for bfloat16, of a ~370 / ~190 ms inference.
constexpr index_t kTransposeRows = 16;

// The contiguous share [begin, end) of n items for thread tid of nt.
inline index_t share_begin(index_t n, int tid, int nt) { return n * tid / nt; }

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
