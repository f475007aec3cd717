// Builds one instruction set's kernel table. Each isa/*.cpp defines
// LSTMFAST_ISA and LSTMFAST_VECTOR_BYTES, is compiled with its own flags
// (CMakeLists.txt), includes this file once, and names its table.
#pragma once

#include "../cells/gru.h"
#include "../cells/lstm.h"
#include "../cells/rnn.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

template <class T>
TypedKernels<T> typed_table() {
  return {lstm_forward<T>, lstm_backward<T>, rnn_forward<T>, rnn_backward<T>, gru_forward<T>,
          gru_backward<T>, gemm<T>,          sigmoid_array<T>, tanh_array<T>};
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast

#define LSTMFAST_STR2(x) #x
#define LSTMFAST_STR(x) LSTMFAST_STR2(x)
#define LSTMFAST_DEFINE_TABLE(fn)                                                                        \
  const ::lstmfast::Kernels& fn() {                                                                      \
    static const ::lstmfast::Kernels table{LSTMFAST_STR(LSTMFAST_ISA), LSTMFAST_VECTOR_BYTES,             \
                                           LSTMFAST_ISA::typed_table<float>(),                            \
                                           LSTMFAST_ISA::typed_table<double>()};                          \
    return table;                                                                                        \
  }
