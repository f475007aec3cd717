// The interface between the ISA-independent code (bindings, dispatch, threads)
// and the kernels compiled once per instruction set. Plain structs of pointers
// and sizes: nothing here depends on the instruction set, so every translation
// unit can include it.
#pragma once

#include <cstdint>

namespace lstmfast {

using index_t = std::int64_t;

// T time steps, B batch rows, I input features, H hidden units.
struct Dims {
  index_t T, B, I, H;
};

// Rows of h and c for all steps with the initial state in front ("hs[-1] = h0"):
// h_all is (T+1, B, H), h_all[0] = h0 and h_all[t+1] = h<t> = y[t].
template <class T>
struct LstmForwardArgs {
  Dims d;
  const T* x;     // (T, B, I)
  const T* w_ih;  // (4H, I), gate rows i, f, g, o
  const T* w_hh;  // (4H, H)
  const T* bias;  // (4H,) = b_ih + b_hh, or nullptr
  const T* h0;    // (B, H)
  const T* c0;    // (B, H)
  T* y;           // (T, B, H)
  T* h_n;         // (B, H)
  T* c_n;         // (B, H)
  // Training only (nullptr for inference): what BPTT needs.
  T* gates;  // (T, B, 4H) activated i, f, g, o
  T* c_all;  // (T+1, B, H), c_all[0] = c0
};

template <class T>
struct LstmBackwardArgs {
  Dims d;
  const T* x;      // (T, B, I)
  const T* w_ih;   // (4H, I)
  const T* w_hh;   // (4H, H)
  const T* h_all;  // (T+1, B, H)
  const T* c_all;  // (T+1, B, H)
  const T* gates;  // (T, B, 4H)
  const T* dy;     // (T, B, H)
  const T* dh_n;   // (B, H) or nullptr (zeros)
  const T* dc_n;   // (B, H) or nullptr (zeros)
  T* dx;           // (T, B, I)
  T* dh0;          // (B, H)
  T* dc0;          // (B, H)
  T* dw_ih;        // (4H, I)
  T* dw_hh;        // (4H, H)
  T* db;           // (4H,) or nullptr (no bias)
};

enum class Nonlinearity : int { tanh = 0, relu = 1 };

template <class T>
struct RnnForwardArgs {
  Dims d;
  Nonlinearity act;
  const T* x;     // (T, B, I)
  const T* w_ih;  // (H, I)
  const T* w_hh;  // (H, H)
  const T* bias;  // (H,) = b_ih + b_hh, or nullptr
  const T* h0;    // (B, H)
  T* y;           // (T, B, H); for training the caller passes h_all + B*H
  T* h_n;         // (B, H)
};

template <class T>
struct RnnBackwardArgs {
  Dims d;
  Nonlinearity act;
  const T* x;      // (T, B, I)
  const T* w_ih;   // (H, I)
  const T* w_hh;   // (H, H)
  const T* h_all;  // (T+1, B, H)
  const T* dy;     // (T, B, H)
  const T* dh_n;   // (B, H) or nullptr
  T* dx;           // (T, B, I)
  T* dh0;          // (B, H)
  T* dw_ih;        // (H, I)
  T* dw_hh;        // (H, H)
  T* db;           // (H,) or nullptr
};

// C (M, N) = A (M, K) · B (K, N) [+ C if accumulate] [+ bias (N,)], where
// element (r, c) of A is a[r * a_rs + c * a_cs] (so transposes are strides).
// Optionally rows r >= a_split of A come from a second matrix a2 (element
// (r, c) at a2[(r - a_split) * a_rs2 + c * a_cs2]): the weight gradients use
// this to treat [x | h<t-1>] as one operand.
template <class T>
struct GemmArgs {
  index_t M, N, K;
  const T* a;
  index_t a_rs, a_cs;
  const T* b;
  index_t b_rs, b_cs;
  T* c;
  index_t ldc;
  const T* bias;  // (N,) or nullptr
  bool accumulate;
  const T* a2 = nullptr;
  index_t a_split = 0, a_rs2 = 0, a_cs2 = 0;
};

template <class T>
struct TypedKernels {
  void (*lstm_forward)(const LstmForwardArgs<T>&);
  void (*lstm_backward)(const LstmBackwardArgs<T>&);
  void (*rnn_forward)(const RnnForwardArgs<T>&);
  void (*rnn_backward)(const RnnBackwardArgs<T>&);
  void (*gemm)(const GemmArgs<T>&);
  // Elementwise, exposed so the tests can measure their error against libm.
  void (*sigmoid)(const T* x, T* y, index_t n);
  void (*tanh)(const T* x, T* y, index_t n);
};

struct Kernels {
  const char* isa;  // "portable", "avx2", "avx512"
  int vector_bytes;
  TypedKernels<float> f32;
  TypedKernels<double> f64;
};

// Each compiled instruction set provides one table (see isa/*.cpp).
const Kernels& kernels_portable();
#if defined(LSTMFAST_HAVE_AVX2)
const Kernels& kernels_avx2();
#endif
#if defined(LSTMFAST_HAVE_AVX512)
const Kernels& kernels_avx512();
#endif

template <class T>
const TypedKernels<T>& typed(const Kernels& k);
template <>
inline const TypedKernels<float>& typed<float>(const Kernels& k) { return k.f32; }
template <>
inline const TypedKernels<double>& typed<double>(const Kernels& k) { return k.f64; }

}  // namespace lstmfast
