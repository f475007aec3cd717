// The RNN kernels of one instruction set (see parts.h).
#include "../cells/rnn.h"
#include "parts.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

template <class T>
void fill_rnn(TypedKernels<T>& k) {
  k.rnn_forward = rnn_forward<T>;
  k.rnn_backward = rnn_backward<T>;
}
LSTMFAST_FILL_ENTRIES(fill_rnn)

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
