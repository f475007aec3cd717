// The LSTM kernels of one instruction set (see parts.h).
#include "../cells/lstm.h"
#include "parts.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

template <class T>
void fill_lstm(TypedKernels<T>& k) {
  k.lstm_forward = lstm_forward<T>;
  k.lstm_backward = lstm_backward<T>;
}
LSTMFAST_FILL_ENTRIES(fill_lstm)

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
