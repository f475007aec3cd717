// One instruction set's kernels are compiled in five parts (lstm.cpp, gru.cpp,
// rnn.cpp, optimizers.cpp and table.cpp), each compiled once per instruction set with
// LSTMFAST_ISA (the namespace that keeps the sets apart), LSTMFAST_VECTOR_BYTES
// and that set's flags (CMakeLists.txt). Five smaller units instead of one
// build in parallel and need less memory; a part fills its cell's entries of
// the set's table, which table.cpp assembles.
//
// A part compiles its entries for float32 and float64, except in the avx512
// set (LSTMFAST_FLOAT64_FROM_AVX2): its table takes avx2's float64 entries
// (CMakeLists.txt says why).
#pragma once

#include "../api.h"

#if !defined(LSTMFAST_ISA) || !defined(LSTMFAST_VECTOR_BYTES)
#error "isa/*.cpp are compiled once per instruction set, with LSTMFAST_ISA and LSTMFAST_VECTOR_BYTES defined"
#endif


namespace lstmfast {
namespace LSTMFAST_ISA {

template <class T>
void fill_lstm(TypedKernels<T>& k);
template <class T>
void fill_gru(TypedKernels<T>& k);
template <class T>
void fill_rnn(TypedKernels<T>& k);
template <class T>
void fill_optimizers(TypedKernels<T>& k);

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast

// The types a part's fill_<part> is compiled for.
#if defined(LSTMFAST_FLOAT64_FROM_AVX2)
#define LSTMFAST_FILL_ENTRIES(fill) template void fill<float>(TypedKernels<float>&);
#else
#define LSTMFAST_FILL_ENTRIES(fill) \
  template void fill<float>(TypedKernels<float>&); \
  template void fill<double>(TypedKernels<double>&);
#endif

#define LSTMFAST_CAT2(a, b) a##b
#define LSTMFAST_CAT(a, b) LSTMFAST_CAT2(a, b)
#define LSTMFAST_STR2(x) #x
#define LSTMFAST_STR(x) LSTMFAST_STR2(x)
