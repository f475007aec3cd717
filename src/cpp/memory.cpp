#include "memory.h"

#include <cstdlib>
#include <limits>
#include <new>

namespace lstmfast {

void* aligned_alloc_bytes(std::size_t count, std::size_t elem_size) {
  constexpr std::size_t kAlign = 64;
  if (elem_size != 0 && count > (std::numeric_limits<std::size_t>::max() - kAlign) / elem_size)
    throw std::bad_alloc();
  std::size_t bytes = count * elem_size;
  bytes = (bytes + kAlign - 1) / kAlign * kAlign;
  if (bytes == 0) bytes = kAlign;
  void* p = nullptr;
  if (posix_memalign(&p, kAlign, bytes) != 0) throw std::bad_alloc();
  return p;
}

void aligned_free(void* p) noexcept { std::free(p); }

}  // namespace lstmfast
