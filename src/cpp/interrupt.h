// A way out of a long call (Ctrl-C), ISA-independent. The kernels' time loops
// call poll(k) on the calling thread after its share of step k, before the
// barrier that ends the step; poll asks check(ctx) at most every kInterval,
// and once that answers "stop" every thread learns after that barrier
// (ends_after(k)) and leaves the loop, and the rest of the call is skipped.
// The outputs are then meaningless: the caller raises instead.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>

namespace lstmfast {

class Interrupt {
 public:
  using Check = bool (*)(void* ctx);
  Interrupt(Check check, void* ctx);

  // Thread 0 only, during step k.
  void poll(std::int64_t k);
  // Every thread, after the barrier of step k. Exact per step: thread 0 may
  // already be past the next barrier's poll when a slow thread asks about k.
  bool ends_after(std::int64_t k) const { return stop_at_.load(std::memory_order_relaxed) <= k; }
  bool stopped() const { return stop_at_.load(std::memory_order_relaxed) != kNever; }

 private:
  static constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();
  Check check_;
  void* ctx_;
  std::int64_t next_ns_;
  // The clock is read about every kReadNs (interrupt.cpp), not at every poll:
  // a small step takes ~100 ns, and a clock read ~20 of them.
  std::int64_t last_read_ns_;
  std::int64_t polls_since_read_ = 0, polls_per_read_ = 1;
  std::atomic<std::int64_t> stop_at_{kNever};
};

}  // namespace lstmfast
