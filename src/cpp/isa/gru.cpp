// The GRU kernels of one instruction set (see parts.h).
#include "../cells/gru.h"
#include "parts.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

template <class T>
void fill_gru(TypedKernels<T>& k) {
  k.gru_forward = gru_forward<T>;
  k.gru_backward = gru_backward<T>;
}
LSTMFAST_FILL_ENTRIES(fill_gru)

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
