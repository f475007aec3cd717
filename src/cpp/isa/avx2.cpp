// Kernels for avx2, compiled with: -mavx2 -mfma (see CMakeLists.txt).
#define LSTMFAST_ISA avx2
#define LSTMFAST_VECTOR_BYTES 32
#include "entry.h"

namespace lstmfast {
LSTMFAST_DEFINE_TABLE(kernels_avx2)
}  // namespace lstmfast
