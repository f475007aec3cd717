// The GRU kernels of one instruction set (see parts.h).
#include "../cells/gru.h"
#include "parts.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

void fill_gru(TypedKernels<float>& f32, TypedKernels<double>& f64) {
  f32.gru_forward = gru_forward<float>;
  f32.gru_backward = gru_backward<float>;
  f64.gru_forward = gru_forward<double>;
  f64.gru_backward = gru_backward<double>;
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
