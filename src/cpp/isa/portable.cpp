// Kernels for portable, compiled with: baseline flags of the target (SSE2 on x86-64, NEON on aarch64) (see CMakeLists.txt).
#define LSTMFAST_ISA portable
#define LSTMFAST_VECTOR_BYTES 16
#include "entry.h"

namespace lstmfast {
LSTMFAST_DEFINE_TABLE(kernels_portable)
}  // namespace lstmfast
