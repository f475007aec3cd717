#include "interrupt.h"

#include <chrono>

namespace lstmfast {
namespace {

// Asking costs the caller the GIL (bindings): ~20 times a second answers
// Ctrl-C within a blink and costs nothing measurable.
constexpr std::int64_t kIntervalNs = 50'000'000;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Interrupt::Interrupt(Check check, void* ctx) : check_(check), ctx_(ctx), next_ns_(now_ns() + kIntervalNs) {}

void Interrupt::poll(std::int64_t k) {
  if (stopped()) return;
  const std::int64_t now = now_ns();
  if (now < next_ns_) return;
  next_ns_ = now + kIntervalNs;
  if (check_(ctx_)) stop_at_.store(k, std::memory_order_relaxed);
}

}  // namespace lstmfast
