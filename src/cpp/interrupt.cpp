#include "interrupt.h"

#include <algorithm>
#include <chrono>

namespace lstmfast {
namespace {

// Asking costs the caller the GIL (bindings): ~20 times a second answers
// Ctrl-C within a blink and costs nothing measurable.
constexpr std::int64_t kIntervalNs = 50'000'000;
constexpr std::int64_t kReadNs = 1'000'000;
constexpr std::int64_t kMaxPollsPerRead = 1024;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Interrupt::Interrupt(Check check, void* ctx)
    : check_(check), ctx_(ctx), next_ns_(now_ns() + kIntervalNs), last_read_ns_(next_ns_ - kIntervalNs) {}

void Interrupt::poll(std::int64_t k) {
  if (++polls_since_read_ < polls_per_read_ || stopped()) return;
  const std::int64_t now = now_ns();
  // As many polls per read as took ~kReadNs lately (at least 1: long steps
  // read the clock at every poll).
  const std::int64_t per_poll = (now - last_read_ns_) / polls_since_read_ + 1;
  polls_per_read_ = std::min(kMaxPollsPerRead, std::max<std::int64_t>(1, kReadNs / per_poll));
  polls_since_read_ = 0;
  last_read_ns_ = now;
  if (now < next_ns_) return;
  next_ns_ = now + kIntervalNs;
  if (check_(ctx_)) stop_at_.store(k, std::memory_order_relaxed);
}

}  // namespace lstmfast
