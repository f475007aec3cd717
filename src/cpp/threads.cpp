#include "threads.h"

#include "environment.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LSTMFAST_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define LSTMFAST_PAUSE() __asm__ __volatile__("yield")
#else
#define LSTMFAST_PAUSE() ((void)0)
#endif

namespace lstmfast {
namespace {

// Spin this many times before yielding the core (barrier) or sleeping (idle
// worker). A barrier wait is usually a few hundred cycles; an idle worker
// spins ~0.1 ms so back-to-back calls do not pay a wake-up.
constexpr int kSpinsBeforeYield = 2000;
constexpr int kIdleSpins = 20000;

int env_threads() { return static_cast<int>(env_integer("LSTMFAST_NUM_THREADS", 1, 1024, 0)); }

std::atomic<int> g_threads{0};
std::atomic<std::uint64_t> g_loops_alone{0};
// steady_clock ticks until which regions run on one thread (see threads.h)
std::atomic<std::int64_t> g_busy_until{0};
constexpr std::chrono::milliseconds kBusyPause{200};

std::int64_t now_ticks() { return std::chrono::steady_clock::now().time_since_epoch().count(); }
thread_local int t_cap = 0;

class Pool {
 public:
  void run(int n, TaskFn fn, void* ctx) {
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock() || n <= 1) {
      Barrier solo;
      solo.reset(1);
      fn(ctx, 0, 1, solo);
      return;
    }
    ensure_workers(n - 1);
    fn_ = fn;
    ctx_ = ctx;
    barrier_.reset(n);
    remaining_.store(n - 1, std::memory_order_relaxed);
    {
      // The thread count travels in the same word as the generation, so a
      // worker never pairs one run's generation with another run's count.
      std::lock_guard<std::mutex> lock(sleep_mutex_);
      std::uint64_t next = ((job_.load(std::memory_order_relaxed) >> 16) + 1) << 16;
      job_.store(next | static_cast<std::uint64_t>(n), std::memory_order_release);
    }
    wake_.notify_all();
    fn(ctx, 0, n, barrier_);
    for (int spins = 0; remaining_.load(std::memory_order_acquire) != 0; ++spins) {
      if (spins < kSpinsBeforeYield) LSTMFAST_PAUSE();
      else std::this_thread::yield();
    }
  }

 private:
  void ensure_workers(int count) {
    while (static_cast<int>(workers_.size()) < count) {
      int tid = static_cast<int>(workers_.size()) + 1;
      // The worker must know the job word as it was before the run that
      // created it, or it could start late and take that run as already seen.
      const std::uint64_t seen = job_.load(std::memory_order_acquire);
      workers_.emplace_back([this, tid, seen] { worker(tid, seen); });
      workers_.back().detach();
    }
  }

  void worker(int tid, std::uint64_t seen) {
    for (;;) {
      int spins = 0;
      std::uint64_t job;
      while ((job = job_.load(std::memory_order_acquire)) == seen) {
        if (++spins < kIdleSpins) {
          LSTMFAST_PAUSE();
          continue;
        }
        std::unique_lock<std::mutex> lock(sleep_mutex_);
        wake_.wait(lock, [&] { return job_.load(std::memory_order_acquire) != seen; });
      }
      seen = job;
      const int n = static_cast<int>(job & 0xffff);
      if (tid < n) {
        fn_(ctx_, tid, n, barrier_);
        remaining_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  std::mutex run_mutex_;
  std::vector<std::thread> workers_;
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  std::atomic<std::uint64_t> job_{0};  // generation << 16 | thread count
  std::atomic<int> remaining_{0};
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  Barrier barrier_;
};

// Never destroyed: worker threads are detached and may outlive static
// destructors at interpreter exit. A forked child has none of the parent's
// threads (and maybe a locked mutex), so it starts a pool of its own.
std::atomic<Pool*> g_pool{nullptr};

void reset_pool_in_child() { g_pool.store(new Pool(), std::memory_order_relaxed); }

Pool& pool() {
  static const bool registered = [] {
#if defined(__unix__) || defined(__APPLE__)
    pthread_atfork(nullptr, nullptr, reset_pool_in_child);
#endif
    g_pool.store(new Pool(), std::memory_order_release);
    return true;
  }();
  (void)registered;
  return *g_pool.load(std::memory_order_acquire);
}

}  // namespace

int default_num_threads() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

int num_threads() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n > 0) return n;
  n = env_threads();
  if (n == 0) n = default_num_threads();
  g_threads.store(n, std::memory_order_relaxed);
  return n;
}

void set_num_threads(int n) { g_threads.store(n < 1 ? 1 : n, std::memory_order_relaxed); }

void count_loop_alone() {
  g_loops_alone.fetch_add(1, std::memory_order_relaxed);
  const auto pause = std::chrono::duration_cast<std::chrono::steady_clock::duration>(kBusyPause).count();
  g_busy_until.store(now_ticks() + pause, std::memory_order_relaxed);
}
std::uint64_t loops_alone() { return g_loops_alone.load(std::memory_order_relaxed); }

void set_thread_cap(int n) { t_cap = n < 0 ? 0 : n; }

int available_threads() {
  const int n = num_threads();
  return t_cap > 0 && t_cap < n ? t_cap : n;
}

void Barrier::reset(int n) {
  n_ = n;
  count_.store(0, std::memory_order_relaxed);
}

void Barrier::wait() {
  if (n_ <= 1) return;
  const std::uint32_t phase = phase_.load(std::memory_order_acquire);
  if (count_.fetch_add(1, std::memory_order_acq_rel) == n_ - 1) {
    count_.store(0, std::memory_order_relaxed);
    phase_.store(phase + 1, std::memory_order_release);
    return;
  }
  for (int spins = 0; phase_.load(std::memory_order_acquire) == phase; ++spins) {
    if (spins < kSpinsBeforeYield) LSTMFAST_PAUSE();
    else std::this_thread::yield();
  }
}

void parallel_run(int wanted, TaskFn fn, void* ctx) {
  int n = std::min({wanted, available_threads(), 0xffff});
  if (n > 1 && now_ticks() < g_busy_until.load(std::memory_order_relaxed)) n = 1;
  pool().run(n < 1 ? 1 : n, fn, ctx);
}

}  // namespace lstmfast
