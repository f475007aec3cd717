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
#if !defined(LSTMFAST_FLOAT64_FROM_AVX2)
LSTMFAST_GEMM_ENTRY_POINTS(, double)
#endif

namespace {

template <class T>
TypedKernels<T> entries() {
  TypedKernels<T> k{};
  k.gemm = gemm<T>;
  k.sigmoid = sigmoid_array<T>;
  k.tanh = tanh_array<T>;
  k.packed_sizes = Packing<T>::sizes;
  k.pack = Packing<T>::pack;
  fill_lstm(k);
  fill_gru(k);
  fill_rnn(k);
  fill_optimizers(k);
  return k;
}

Kernels make_table() {
#if defined(LSTMFAST_FLOAT64_FROM_AVX2)
  // Every entry, packing included, from the one table, so that float64's
  // packed weights are laid out as its kernels read them.
  const Kernels& f64_table = kernels_avx2();
  const TypedKernels<double> f64 = f64_table.f64;
  const char* f64_isa = f64_table.isa;
#else
  const TypedKernels<double> f64 = entries<double>();
  const char* f64_isa = LSTMFAST_STR(LSTMFAST_ISA);
#endif
  Kernels table{LSTMFAST_STR(LSTMFAST_ISA), LSTMFAST_VECTOR_BYTES, entries<float>(), f64, f64_isa, nullptr};
#if defined(LSTMFAST_HAVE_AVX512_BF16)  // defined for the avx512 table only
  if (cpu_features().avx512_bf16) table.bf16 = &kernels_avx512_bf16();
#endif
  return table;
}

}  // namespace
}  // namespace LSTMFAST_ISA

const Kernels& LSTMFAST_CAT(kernels_, LSTMFAST_ISA)() {
  static const Kernels table = LSTMFAST_ISA::make_table();
  return table;
}

}  // namespace lstmfast
