#include "dispatch.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace lstmfast {
namespace {

struct Entry {
  const char* name;
  const Kernels& (*table)();
  bool (*usable)(const CpuFeatures&);
};

// Best first.
const Entry kEntries[] = {
#if defined(LSTMFAST_HAVE_AVX512)
    {"avx512", kernels_avx512, [](const CpuFeatures& f) { return f.avx512; }},
#endif
#if defined(LSTMFAST_HAVE_AVX2)
    {"avx2", kernels_avx2, [](const CpuFeatures& f) { return f.avx2_fma; }},
#endif
    {"portable", kernels_portable, [](const CpuFeatures&) { return true; }},
};

std::atomic<const Kernels*> g_active{nullptr};

const Entry* find(const std::string& name) {
  for (const Entry& e : kEntries)
    if (name == e.name) return &e;
  return nullptr;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

const Kernels& choose(const std::string& name) {
  const Entry* e = find(name);
  if (!e)
    throw std::invalid_argument("unknown instruction set '" + name + "'; this build has: " +
                                join(compiled_isas()));
  if (!e->usable(cpu_features()))
    throw std::runtime_error("instruction set '" + name + "' is not supported by this CPU; it supports: " +
                             join(usable_isas()));
  return e->table();
}

}  // namespace

CpuFeatures cpu_features() {
  CpuFeatures f;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  // __builtin_cpu_supports also checks that the OS saves the wide registers.
  __builtin_cpu_init();
  f.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  f.avx512 = f.avx2_fma && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  f.avx512_bf16 = f.avx512 && __builtin_cpu_supports("avx512bf16");
#endif
  return f;
}

std::vector<std::string> compiled_isas() {
  std::vector<std::string> v;
  for (const Entry& e : kEntries) v.push_back(e.name);
  return v;
}

std::vector<std::string> usable_isas() {
  const CpuFeatures f = cpu_features();
  std::vector<std::string> v;
  for (const Entry& e : kEntries)
    if (e.usable(f)) v.push_back(e.name);
  return v;
}

const Kernels& active_kernels() {
  const Kernels* k = g_active.load(std::memory_order_acquire);
  if (k) return *k;
  const char* forced = std::getenv("LSTMFAST_ISA");
  const Kernels& chosen = (forced && *forced) ? choose(forced) : choose(usable_isas().front());
  g_active.store(&chosen, std::memory_order_release);
  return chosen;
}

void select_isa(const std::string& name) { g_active.store(&choose(name), std::memory_order_release); }

}  // namespace lstmfast
