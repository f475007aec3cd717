// The RNN kernels of one instruction set (see parts.h).
#include "../cells/rnn.h"
#include "parts.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

void fill_rnn(TypedKernels<float>& f32, TypedKernels<double>& f64) {
  f32.rnn_forward = rnn_forward<float>;
  f32.rnn_backward = rnn_backward<float>;
  f64.rnn_forward = rnn_forward<double>;
  f64.rnn_backward = rnn_backward<double>;
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
