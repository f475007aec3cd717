// Runs a lambda on the shared thread pool (threads.h).
#pragma once

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

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
