// Inference with bfloat16 products (kernels/bf16.h) for the three cells: one
// unit of its own, compiled with the AVX-512 flags and -mavx512bf16 under the
// namespace avx512_bf16, so none of its inline code can be picked by the
// linker for the avx512 table (whose CPUs may lack AVX512_BF16). The avx512
// table points at it when the CPU has AVX512_BF16 (table.cpp).
#include "../cells/gru.h"
#include "../cells/lstm.h"
#include "../cells/rnn.h"
#include "../kernels/bf16.h"

namespace lstmfast {
namespace LSTMFAST_ISA {
namespace {

// The GRU with the reset gate before its product has no bfloat16 path (its
// second product reads r * h<t-1> made within the step); the bindings refuse
// it, and should a caller not, it runs the float32 kernel rather than
// nothing.
void gru_forward_bf16(const GruForwardArgs<float>& a) {
  if (a.reset_before) kernels_avx512().f32.gru_forward(a);
  else if (a.clip > 0.0f) gru_forward_reset_after<float, true, Bf16Products>(a);
  else gru_forward_reset_after<float, false, Bf16Products>(a);
}

TypedKernels<float> make_table() {
  TypedKernels<float> k{};
  k.lstm_forward = lstm_forward<float, Bf16Products>;
  k.gru_forward = gru_forward_bf16;
  k.rnn_forward = rnn_forward<float, Bf16Products>;
  k.packed_sizes = Bf16Packing::sizes;
  k.pack = Bf16Packing::pack;
  return k;
}

}  // namespace
}  // namespace LSTMFAST_ISA

const TypedKernels<float>& kernels_avx512_bf16() {
  static const TypedKernels<float> table = LSTMFAST_ISA::make_table();
  return table;
}

}  // namespace lstmfast
