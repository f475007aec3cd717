#include "environment.h"

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "dispatch.h"
#include "memory.h"
#include "threads.h"

namespace lstmfast {

long env_integer(const char* name, long lo, long hi, long fallback) {
  const char* s = std::getenv(name);
  if (!s || !*s) return fallback;
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
    std::string shown(s);
    if (shown.size() > 40) shown = shown.substr(0, 40) + "...";
    throw std::invalid_argument(std::string(name) + ": expected an integer in [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "], got '" + shown + "'");
  }
  return v;
}

void check_environment() {
  active_kernels();
  num_threads();
  scratch_cache_limit();
}

}  // namespace lstmfast
