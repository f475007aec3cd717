// The environment variables lstmfast reads, parsed strictly: a value that is
// set but not what is expected is an error naming the variable (raised when
// the module is imported), never silently replaced by a default.
#pragma once

namespace lstmfast {

// The integer in the environment variable `name`, which must lie in [lo, hi];
// `fallback` if it is unset or empty. Throws std::invalid_argument otherwise.
long env_integer(const char* name, long lo, long hi, long fallback);

// Reads every variable once (LSTMFAST_ISA, LSTMFAST_NUM_THREADS,
// LSTMFAST_SCRATCH_CACHE_MB), so that a bad one fails the import.
void check_environment();

}  // namespace lstmfast
