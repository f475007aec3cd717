// The LSTM's inference with bfloat16 products (kernels/bf16.h): one unit of
// its own, compiled with the AVX-512 flags and -mavx512bf16 under the
// namespace avx512_bf16, so none of its inline code can be picked by the
// linker for the avx512 table (whose CPUs may lack AVX512_BF16). The avx512
// table points at it when the CPU has AVX512_BF16 (table.cpp).
#include "../cells/lstm.h"
#include "../kernels/bf16.h"

namespace lstmfast {

void lstm_forward_avx512_bf16(const LstmForwardArgs<float>& a) {
  LSTMFAST_ISA::lstm_forward<float, LSTMFAST_ISA::Bf16Products>(a);
}

}  // namespace lstmfast
