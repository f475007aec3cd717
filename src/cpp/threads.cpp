#include "threads.h"

#include "environment.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
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
#if defined(__linux__)
    // Named so that top -H, py-spy and the tests can tell lstmfast's threads apart.
    char name[16];
    std::snprintf(name, sizeof name, "lstmfast-%d", tid % 100000);
    pthread_setname_np(pthread_self(), name);
#endif
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

// An OpenMP runtime's entry points: GOMP_parallel, which libgomp, LLVM's libomp
// and Intel's libiomp5 all export, and the two team queries.
struct OpenMP {
  void (*parallel)(void (*)(void*), void*, unsigned, unsigned) = nullptr;
  int (*thread_num)() = nullptr;
  int (*team_size)() = nullptr;
};

// Found only among libraries already loaded (RTLD_NOLOAD): lstmfast never
// starts a runtime of its own. Probed when first asked for, and again while
// none is found (torch may be imported later).
OpenMP g_openmp;
std::mutex g_openmp_mutex;
std::atomic<bool> g_openmp_found{false};
thread_local int t_openmp_threads = 0;

template <class F>
F symbol(void* library, const char* name) {
#if defined(__unix__) || defined(__APPLE__)
  return reinterpret_cast<F>(dlsym(library, name));
#else
  (void)library, (void)name;
  return nullptr;
#endif
}

bool find_openmp() {
  std::lock_guard<std::mutex> lock(g_openmp_mutex);
  if (g_openmp_found.load(std::memory_order_acquire)) return true;
#if defined(__unix__) || defined(__APPLE__)
  for (const char* name : {"libgomp.so.1", "libomp.so", "libiomp5.so", "libomp.dylib", "libiomp5.dylib"}) {
    void* library = dlopen(name, RTLD_LAZY | RTLD_NOLOAD);
    if (library == nullptr) continue;
    OpenMP found;
    found.parallel = symbol<decltype(found.parallel)>(library, "GOMP_parallel");
    found.thread_num = symbol<decltype(found.thread_num)>(library, "omp_get_thread_num");
    found.team_size = symbol<decltype(found.team_size)>(library, "omp_get_num_threads");
    if (found.parallel != nullptr && found.thread_num != nullptr && found.team_size != nullptr) {
      g_openmp = found;
      g_openmp_found.store(true, std::memory_order_release);
      return true;
    }
  }
#endif
  return false;
}

struct OpenMPRegion {
  TaskFn fn;
  void* ctx;
  int n;
  Barrier barrier;
};

void openmp_body(void* data) {
  auto& region = *static_cast<OpenMPRegion*>(data);
  const int tid = g_openmp.thread_num();
  if (g_openmp.team_size() == region.n) {
    region.fn(region.ctx, tid, region.n, region.barrier);
  } else if (tid == 0) {
    // A smaller team than asked for (a nested region, a thread limit): the
    // caller runs the region alone, which gives the same numbers.
    Barrier solo;
    solo.reset(1);
    region.fn(region.ctx, 0, 1, solo);
  }
}

void run_on_openmp(int n, TaskFn fn, void* ctx) {
  OpenMPRegion region{fn, ctx, n, {}};
  region.barrier.reset(n);
  g_openmp.parallel(openmp_body, &region, static_cast<unsigned>(n), 0);
}

void reset_pool_in_child() {
  g_pool.store(new Pool(), std::memory_order_relaxed);
  // An OpenMP runtime's team does not survive fork() either.
  t_openmp_threads = 0;
  g_openmp_found.store(false, std::memory_order_relaxed);
}

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

bool use_openmp_threads(int n) {
  if (n <= 0) {
    t_openmp_threads = 0;
    return true;
  }
  if (!find_openmp()) return false;
  t_openmp_threads = n;
  return true;
}

void parallel_run(int wanted, TaskFn fn, void* ctx) {
  const bool openmp = t_openmp_threads > 0 && g_openmp_found.load(std::memory_order_acquire);
  int n = std::min({wanted, openmp ? t_openmp_threads : available_threads(), 0xffff});
  if (n > 1 && now_ticks() < g_busy_until.load(std::memory_order_relaxed)) n = 1;
  if (openmp && n > 1) run_on_openmp(n, fn, ctx);
  else pool().run(n < 1 ? 1 : n, fn, ctx);
}

}  // namespace lstmfast
