// One instruction set's table: the GEMM and the activations compiled here, the
// cells' entries from their own parts (see parts.h).
#include "../kernels/activations.h"
#include "../kernels/gemm.h"
#include "parts.h"

namespace lstmfast {
namespace LSTMFAST_ISA {
namespace {

template <class T>
TypedKernels<T> shared_entries() {
  TypedKernels<T> k{};
  k.gemm = gemm<T>;
  k.sigmoid = sigmoid_array<T>;
  k.tanh = tanh_array<T>;
  return k;
}

Kernels make_table() {
  Kernels table{LSTMFAST_STR(LSTMFAST_ISA), LSTMFAST_VECTOR_BYTES, shared_entries<float>(), shared_entries<double>()};
  fill_lstm(table.f32, table.f64);
  fill_gru(table.f32, table.f64);
  fill_rnn(table.f32, table.f64);
  return table;
}

}  // namespace
}  // namespace LSTMFAST_ISA

const Kernels& LSTMFAST_CAT(kernels_, LSTMFAST_ISA)() {
  static const Kernels table = LSTMFAST_ISA::make_table();
  return table;
}

}  // namespace lstmfast
