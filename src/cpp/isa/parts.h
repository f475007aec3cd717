// One instruction set's kernels are compiled in five parts (lstm.cpp, gru.cpp,
// rnn.cpp, optimizers.cpp and table.cpp), each compiled once per instruction set with
// LSTMFAST_ISA (the namespace that keeps the sets apart), LSTMFAST_VECTOR_BYTES
// and that set's flags (CMakeLists.txt). Five smaller units instead of one
// build in parallel and need less memory; a part fills its cell's entries of
// the set's table, which table.cpp assembles.
#pragma once

#include "../api.h"

#if !defined(LSTMFAST_ISA) || !defined(LSTMFAST_VECTOR_BYTES)
#error "isa/*.cpp are compiled once per instruction set, with LSTMFAST_ISA and LSTMFAST_VECTOR_BYTES defined"
#endif

namespace lstmfast {
namespace LSTMFAST_ISA {

void fill_lstm(TypedKernels<float>& f32, TypedKernels<double>& f64);
void fill_gru(TypedKernels<float>& f32, TypedKernels<double>& f64);
void fill_rnn(TypedKernels<float>& f32, TypedKernels<double>& f64);
void fill_optimizers(TypedKernels<float>& f32, TypedKernels<double>& f64);

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast

#define LSTMFAST_CAT2(a, b) a##b
#define LSTMFAST_CAT(a, b) LSTMFAST_CAT2(a, b)
#define LSTMFAST_STR2(x) #x
#define LSTMFAST_STR(x) LSTMFAST_STR2(x)
