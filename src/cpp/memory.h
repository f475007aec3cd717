// Aligned allocation for the kernels' scratch, ISA-independent (the per-ISA
// code must not instantiate its own copies of allocator templates; see
// kernels/simd.h).
//
// Freed blocks of 1 MiB or more are kept (up to LSTMFAST_SCRATCH_CACHE_MB,
// default 256; 0 turns it off) for the next call of similar size: fresh pages
// are zeroed by the OS on first touch, a cost a training loop would otherwise
// pay on every step.
#pragma once

#include <cstddef>

namespace lstmfast {

// The alignment of the kernels' memory, and of large outputs (bindings/arrays.h):
// a cache line, and one AVX-512 vector.
constexpr std::size_t kAlignment = 64;

// kAlignment-aligned; throws std::bad_alloc on failure or size overflow.
void* aligned_alloc_bytes(std::size_t count, std::size_t elem_size);
void aligned_free(void* p) noexcept;

// LSTMFAST_SCRATCH_CACHE_MB in bytes (read once; std::invalid_argument if bad).
std::size_t scratch_cache_limit();

// Returns the cached blocks to the system.
void release_cached_memory() noexcept;
std::size_t cached_memory_bytes() noexcept;

}  // namespace lstmfast
