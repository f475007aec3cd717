// Aligned allocation, ISA-independent (the per-ISA code must not instantiate
// its own copies of allocator templates; see kernels/simd.h).
#pragma once

#include <cstddef>

namespace lstmfast {

// 64-byte aligned; throws std::bad_alloc on failure or size overflow.
void* aligned_alloc_bytes(std::size_t count, std::size_t elem_size);
void aligned_free(void* p) noexcept;

}  // namespace lstmfast
