// Kernels for avx512, compiled with: -mavx512f -mavx512dq -mavx512bw -mavx512vl -mavx2 -mfma (see CMakeLists.txt).
#define LSTMFAST_ISA avx512
#define LSTMFAST_VECTOR_BYTES 64
#include "entry.h"

namespace lstmfast {
LSTMFAST_DEFINE_TABLE(kernels_avx512)
}  // namespace lstmfast
