// Runs a lambda on the shared thread pool (threads.h).
#pragma once

#include <atomic>
#include <chrono>
#include <limits>

#include "../threads.h"
#include "simd.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// f(tid, nthreads, barrier). nthreads may be below `wanted` (configured
// thread count, or pool busy with another caller): f must split by it.
template <class F>
void run_parallel(int wanted, F& f) {
  parallel_run(
      wanted, [](void* ctx, int tid, int nt, Barrier& barrier) { (*static_cast<F*>(ctx))(tid, nt, barrier); }, &f);
}

// Threads worth using for `flops` of work split `parts` ways: a thread must
// get enough work to pay for waking it and for the barriers.
inline int threads_for(double flops, index_t parts, double min_flops_per_thread) {
  double by_work = flops / min_flops_per_thread;
  int n = available_threads();
  if (by_work < n) n = by_work < 1 ? 1 : static_cast<int>(by_work);
  if (parts < n) n = parts < 1 ? 1 : static_cast<int>(parts);
  return n;
}


// A time loop's threads meet at a barrier every step. On a machine busier than
// its cores (other processes, or ranks and workers sharing a node), one of
// them can lose its core for a scheduler slice (~1-4 ms) while the others wait
// for it, step after step: with both cores of a 2-core machine busy, a forward
// pass (T=100, B=64, H=128) took 83 ms on 2 threads and 9 ms on 1, and
// PyTorch's took 1.6 s on 2 threads. So thread 0 times its own work in each
// step against its wait at the barrier; after kStrikes steps within kWindow
// steps in which the wait was over twice the work (more than an uneven split
// of the blocks explains) and over kMinWait (a scheduler's doing, not a cache
// miss), the loop finishes on thread 0 alone. A stall now and then, as any
// long call meets, does not add up to that. The decision names a step two ahead, which every thread
// learns at the next barrier, so they all switch at the same step. A block
// computes the same numbers whichever thread runs it: results do not change.
// A loop on one thread has no one to wait for and does not time itself (two
// clock reads per step were ~40% of a small call: S1, T=64, H=32).
class Contention {
 public:
  // Thread 0: when its work of step k (counted from 0) is done, and after
  // the barrier that ends that step.
  void work_done() { work_end_ = Clock::now(); }
  void waited(index_t k) {
    const Clock::time_point now = Clock::now();
    const auto wait = now - work_end_, work = work_end_ - step_start_;
    step_start_ = now;
    if (wait <= 2 * work || wait <= kMinWait) return;
    strikes_ = k - last_strike_ <= kWindow ? strikes_ + 1 : 1;
    last_strike_ = k;
    if (strikes_ == kStrikes) alone_from_.store(k + 2, std::memory_order_relaxed);
  }
  // Every thread, at step k: thread 0 does every block from this step on
  // (the others leave). The barrier before step k publishes the decision.
  bool alone_at(index_t k) const { return k >= alone_from_.load(std::memory_order_relaxed); }
  // One piece of a time loop shared by the region's threads: work(tid, n) on
  // each, then the barrier that ends the loop's step k (and ++k); once the
  // loop runs alone, work(0, 1) on thread 0 and false for the others (leave).
  template <class Work>
  bool share(index_t& k, int tid, int n, Barrier& barrier, const Work& work) {
    if (alone_at(k)) {
      if (tid != 0) return false;
      work(0, 1);
    } else {
      work(tid, n);
      if (tid == 0 && n > 1) work_done();
      barrier.wait();
      if (tid == 0 && n > 1) waited(k);
    }
    ++k;
    return true;
  }
  // After the region: whether it finished alone (for show_config's count).
  bool went_alone() const { return alone_from_.load(std::memory_order_relaxed) != kNever; }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr int kStrikes = 3;
  static constexpr index_t kWindow = 16;
  static constexpr std::chrono::microseconds kMinWait{200};
  Clock::time_point step_start_ = Clock::now(), work_end_ = step_start_;
  int strikes_ = 0;
  index_t last_strike_ = 0;
  static constexpr index_t kNever = std::numeric_limits<index_t>::max();
  std::atomic<index_t> alone_from_{kNever};
};

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
