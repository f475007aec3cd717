// Choosing the compiled instruction set at run time.
#pragma once

#include <string>
#include <vector>

#include "api.h"

namespace lstmfast {

// What the CPU (and the OS, for the wider registers) supports.
struct CpuFeatures {
  bool avx2_fma = false;  // AVX2 and FMA3
  bool avx512 = false;    // AVX-512 F, DQ, BW, VL
  bool avx512_bf16 = false;  // and AVX512_BF16 (bfloat16 dot products)
};
CpuFeatures cpu_features();

// ISAs compiled into this build, best first, and the subset this CPU can run.
std::vector<std::string> compiled_isas();
std::vector<std::string> usable_isas();

// The kernel table in use. The first call picks LSTMFAST_ISA if set (throwing
// std::runtime_error if the CPU cannot run it, std::invalid_argument if no
// such ISA is compiled), else the best usable ISA.
const Kernels& active_kernels();

// Forces an ISA (same errors as above).
void select_isa(const std::string& name);

}  // namespace lstmfast
