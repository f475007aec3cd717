// A small persistent thread pool for the kernels. ISA-independent: the
// per-ISA code only calls these non-inline functions.
//
// Determinism: work is always split so that every output element is computed
// by exactly one thread in a fixed order, so results do not depend on the
// thread count. Concurrent callers (several Python threads with the GIL
// released) are serialised per parallel region: a caller that finds the pool
// busy runs its region alone on its own thread, which gives the same numbers.
#pragma once

#include <atomic>
#include <cstdint>

namespace lstmfast {

// Threads the kernels may use: LSTMFAST_NUM_THREADS if set, else the cores
// this process may run on.
int num_threads();
void set_num_threads(int n);
int default_num_threads();

// A cap for the calling thread only (0 = none): lets independent calls run
// side by side, each on part of the cores (the two directions of a
// bidirectional layer). available_threads() is what a call may use.
void set_thread_cap(int n);
int available_threads();

// A reusable spinning barrier for the threads of one parallel region.
class Barrier {
 public:
  void reset(int n);
  void wait();

 private:
  int n_ = 1;
  alignas(64) std::atomic<int> count_{0};
  alignas(64) std::atomic<std::uint32_t> phase_{0};
};

// Time loops that finished on one thread because another of their threads
// kept losing its core (kernels/parallel.h: Contention); show_config() reports
// it. After such a loop, parallel regions run on one thread for kBusyPause
// (threads.cpp), then try their threads again: while the cores stay busy,
// finding out again costs a few ms per pause instead of every call.
void count_loop_alone();
std::uint64_t loops_alone();

using TaskFn = void (*)(void* ctx, int tid, int nthreads, Barrier& barrier);

// For the calling thread only: run its parallel regions on the threads of the
// OpenMP runtime already loaded in the process (torch's intra-op pool), at most
// n of them; 0 returns to lstmfast's pool. Returns false, and changes nothing,
// if no OpenMP runtime is loaded. Why: torch's threads spin for milliseconds
// after each of its operations and hold the cores lstmfast's pool would need.
bool use_openmp_threads(int n);

// Runs fn(ctx, tid, n, barrier) for tid = 0..n-1 (tid 0 on the caller) with
// n = min(wanted, available_threads()), or n = 1 if the pool is busy; on the
// OpenMP runtime's threads instead if use_openmp_threads() says so.
void parallel_run(int wanted, TaskFn fn, void* ctx);

}  // namespace lstmfast
