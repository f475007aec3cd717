#include "memory.h"

#include "environment.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <new>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif

namespace lstmfast {
namespace {

// Blocks this large are kept after a call for the next one: fresh memory from
// the OS is zeroed page by page on first touch, which cost ~10% of a large
// training step. malloc keeps smaller blocks on its free lists, but not
// reliably those above its trim and mmap thresholds (128 KiB at the start,
// moving with what the process frees): a block of a few hundred KiB at the top
// of the heap went back to the OS after every call, depending on what else the
// process had allocated. The LSTM's BPTT at T=12, B=32, I=1, H=64 then took
// 93 page faults and 280-480 us per call instead of 162.
constexpr std::size_t kCacheMin = std::size_t(64) << 10;
// At most this many blocks are kept (the oldest go first), so that the search
// of take_cached stays short.
constexpr std::size_t kCacheBlocks = 64;

// Each block starts with a header holding its usable size.
struct Header {
  std::size_t bytes;
};
static_assert(sizeof(Header) <= kAlignment, "header fits in the alignment gap");

struct Cache {
  std::mutex mutex;
  std::vector<void*> blocks;  // raw pointers (header first)
  std::size_t bytes = 0;
};

// Never destroyed: may be used at exit. A forked child starts with an empty
// cache of its own (another thread may have held the lock at the fork).
std::atomic<Cache*> g_cache{nullptr};

void reset_cache_in_child() { g_cache.store(new Cache(), std::memory_order_relaxed); }

Cache& cache() {
  static const bool registered = [] {
#if defined(__unix__) || defined(__APPLE__)
    pthread_atfork(nullptr, nullptr, reset_cache_in_child);
#endif
    g_cache.store(new Cache(), std::memory_order_release);
    return true;
  }();
  (void)registered;
  return *g_cache.load(std::memory_order_acquire);
}

std::size_t size_of(void* raw) { return static_cast<Header*>(raw)->bytes; }

void* take_cached(std::size_t bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  std::size_t best = c.blocks.size();
  for (std::size_t i = 0; i < c.blocks.size(); ++i) {
    const std::size_t b = size_of(c.blocks[i]);
    // Reuse a block that fits without wasting more than half of it.
    if (b >= bytes && b / 2 <= bytes && (best == c.blocks.size() || b < size_of(c.blocks[best]))) best = i;
  }
  if (best == c.blocks.size()) return nullptr;
  void* raw = c.blocks[best];
  c.blocks.erase(c.blocks.begin() + static_cast<std::ptrdiff_t>(best));
  c.bytes -= size_of(raw);
  return raw;
}

}  // namespace

std::size_t scratch_cache_limit() {
  // At most 1 TiB: larger is a typo, and MB << 20 must not overflow.
  static const std::size_t limit = std::size_t(env_integer("LSTMFAST_SCRATCH_CACHE_MB", 0, 1L << 20, 256)) << 20;
  return limit;
}

void* aligned_alloc_bytes(std::size_t count, std::size_t elem_size) {
  if (elem_size != 0 && count > (std::numeric_limits<std::size_t>::max() - 2 * kAlignment) / elem_size)
    throw std::bad_alloc();
  std::size_t bytes = (count * elem_size + kAlignment - 1) / kAlignment * kAlignment;
  if (bytes == 0) bytes = kAlignment;
  void* raw = bytes >= kCacheMin ? take_cached(bytes) : nullptr;
  if (!raw) {
    if (posix_memalign(&raw, kAlignment, bytes + kAlignment) != 0) throw std::bad_alloc();
    static_cast<Header*>(raw)->bytes = bytes;
  }
  return static_cast<char*>(raw) + kAlignment;
}

void aligned_free(void* p) noexcept {
  if (!p) return;
  void* raw = static_cast<char*>(p) - kAlignment;
  const std::size_t bytes = size_of(raw);
  if (bytes >= kCacheMin && bytes <= scratch_cache_limit()) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    // Make room by dropping the oldest blocks.
    while (!c.blocks.empty() && (c.bytes + bytes > scratch_cache_limit() || c.blocks.size() >= kCacheBlocks)) {
      c.bytes -= size_of(c.blocks.front());
      std::free(c.blocks.front());
      c.blocks.erase(c.blocks.begin());
    }
    c.blocks.push_back(raw);
    c.bytes += bytes;
    return;
  }
  std::free(raw);
}

void release_cached_memory() noexcept {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  for (void* raw : c.blocks) std::free(raw);
  c.blocks.clear();
  c.bytes = 0;
}

std::size_t cached_memory_bytes() noexcept {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.bytes;
}

}  // namespace lstmfast
