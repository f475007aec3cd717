// The LSTM kernels of one instruction set (see parts.h).
#include "../cells/lstm.h"
#include "parts.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

void fill_lstm(TypedKernels<float>& f32, TypedKernels<double>& f64) {
  f32.lstm_forward = lstm_forward<float>;
  f32.lstm_backward = lstm_backward<float>;
  f64.lstm_forward = lstm_forward<double>;
  f64.lstm_backward = lstm_backward<double>;
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
