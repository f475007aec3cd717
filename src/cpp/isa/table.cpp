// One instruction set's table: the GEMM and the activations compiled here, the
// cells' entries from their own parts (see parts.h).
#include "../kernels/activations.h"
#include "../kernels/gemm.h"
#include "../kernels/plans.h"
#include "parts.h"

#if defined(LSTMFAST_HAVE_AVX512_BF16)
#include "../dispatch.h"
#endif

namespace lstmfast {
namespace LSTMFAST_ISA {

LSTMFAST_GEMM_ENTRY_POINTS(, float)
LSTMFAST_GEMM_ENTRY_POINTS(, double)

namespace {

template <class T>
TypedKernels<T> shared_entries() {
  TypedKernels<T> k{};
  k.gemm = gemm<T>;
  k.sigmoid = sigmoid_array<T>;
  k.tanh = tanh_array<T>;
  k.packed_sizes = Packing<T>::sizes;
  k.pack = Packing<T>::pack;
  return k;
}

Kernels make_table() {
  Kernels table{LSTMFAST_STR(LSTMFAST_ISA), LSTMFAST_VECTOR_BYTES, shared_entries<float>(), shared_entries<double>(),
                nullptr};
#if defined(LSTMFAST_HAVE_AVX512_BF16)  // defined for the avx512 table only
  if (cpu_features().avx512_bf16) table.bf16 = &kernels_avx512_bf16();
#endif
  fill_lstm(table.f32, table.f64);
  fill_gru(table.f32, table.f64);
  fill_rnn(table.f32, table.f64);
  fill_optimizers(table.f32, table.f64);
  return table;
}

}  // namespace
}  // namespace LSTMFAST_ISA

const Kernels& LSTMFAST_CAT(kernels_, LSTMFAST_ISA)() {
  static const Kernels table = LSTMFAST_ISA::make_table();
  return table;
}

}  // namespace lstmfast
