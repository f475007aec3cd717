// The interface between the ISA-independent code (bindings, dispatch, threads)
// and the kernels compiled once per instruction set. Plain structs of pointers
// and sizes: nothing here depends on the instruction set, so every translation
// unit can include it.
#pragma once

#include <cstdint>

namespace lstmfast {

using index_t = std::int64_t;

class Interrupt;  // interrupt.h: a way out of a long call

// T time steps, B batch rows, I input features, H hidden units.
struct Dims {
  index_t T, B, I, H;
};

// How the T steps of each of the B sequences are taken.
//   lengths: (B,) with 0 <= lengths[b] <= T, or nullptr (all T). Past its
//            length a sequence's output is 0 and its state is frozen (so a
//            sequence of length 0 ends in its initial state).
//   reverse: each sequence runs from its last real step down to its first
//            (the reverse half of a bidirectional layer).
// Arrays over steps are indexed by natural time t and row b at t*B + b.
//
// The tape's state arrays h_all, c_all (T+1, B, H) hold the state after each
// natural time and the initial state: forward, slot t+1 is after time t and
// slot 0 the initial state; reverse, slot t is after time t and slot
// lengths[b] the initial state. So the state before time t is slot t
// (forward) or t+1 (reverse) for every row, and h<t-1> for all steps is one
// matrix: h_all[0:T] or h_all[1:T+1]. The kernels write these slots.
struct Steps {
  const index_t* lengths = nullptr;
  bool reverse = false;
};

// What a cell's forward and backward passes both read: the sizes, how the
// steps are taken, the input and the weights. G = gates * H rows of the
// weights, in the cell's gate order.
template <class T>
struct CellInputs {
  Dims d;
  Steps steps;
  const T* x;     // (T, B, I)
  const T* w_ih;  // (G, I)
  const T* w_hh;  // (G, H)
  Interrupt* interrupt = nullptr;  // asked between steps (Ctrl-C); nullptr: never stop
};

// Weights packed once for many inference calls (the bindings' PackedWeights):
// W_hh in the time loop's panels and W_ih in the input projection's, in the
// layout of the table (and precision) that packed them. A forward call given
// them packs nothing and reads w_ih and w_hh only through them.
struct PackedWeights {
  const void* w_hh;
  const void* w_ih;
};

// What to pack: a cell of `gates` gate blocks (G = gates * H rows), I inputs,
// H units; two_products: the GRU whose reset gate acts before its candidate's
// product (two recurrent products per step).
struct PackSpec {
  index_t I, H;
  int gates;
  bool two_products;
};

struct PackedSizes {
  index_t w_hh_bytes, w_ih_bytes;
};

// Every cell's forward pass.
template <class T>
struct ForwardArgs : CellInputs<T> {
  const T* bias;  // (G,): the bias of the input projection, or nullptr
  const T* h0;    // (B, H)
  T* y;           // (T, B, *): row t*B + b at y + (t*B + b) * ldy
  index_t ldy;    // >= H (2H when two directions share y)
  T* h_n;         // (B, H)
  T* h_all;       // training only (nullptr for inference): (T+1, B, H), see Steps
  T clip;         // > 0: every gate's pre-activation is clipped to [-clip, clip] (ONNX); 0: none
  T* preact;      // training with clip: (T, B, G) the pre-activations before clipping
  const PackedWeights* packed = nullptr;  // inference: the weights packed once, or nullptr
};

// Every cell's backward pass: the forward's states (its tape) and the
// gradients arriving at its outputs.
template <class T>
struct BackwardArgs : CellInputs<T> {
  const T* h_all;      // (T+1, B, H)
  const T* dy;         // (T, B, *), row stride ldy
  index_t ldy;
  const T* dh_n;       // (B, H) or nullptr (zeros)
  T* dx;               // (T, B, I), or null: not wanted (not computed)
  bool accumulate_dx;  // dx += (two directions reading one input)
  T* dh0;              // (B, H)
  T* dw_ih;            // (G, I)
  T* dw_hh;            // (G, H)
  T clip;              // as in forward
  const T* preact;     // with clip: the forward's (T, B, G) pre-activations
};

// LSTM, G = 4H, gate rows i, f, g, o; bias = b_ih + b_hh. ONNX's options:
//   peepholes: (3H,) p_i, p_f, p_o: z_i += p_i c<t-1>, z_f += p_f c<t-1>,
//              z_o += p_o c<t>; or nullptr
//   input_forget: f = 1 - i (the forget gate's rows are unused)
template <class T>
struct LstmForwardArgs : ForwardArgs<T> {
  const T* c0;  // (B, H)
  T* c_n;       // (B, H)
  // Training only (nullptr for inference), with h_all: what BPTT needs.
  T* gates;  // (T, B, 4H) activated i, f, g, o
  T* c_all;  // (T+1, B, H), like h_all
  const T* peepholes;
  bool input_forget;
};

template <class T>
struct LstmBackwardArgs : BackwardArgs<T> {
  const T* c_all;  // (T+1, B, H)
  const T* gates;  // (T, B, 4H)
  const T* dc_n;   // (B, H) or nullptr (zeros)
  T* dc0;          // (B, H)
  T* db;           // (4H,) or nullptr (no bias): the gradient of b_ih and of b_hh
  const T* peepholes;
  bool input_forget;
  T* dpeepholes;  // (3H,) when peepholes
};

// Vanilla RNN, G = H: h<t> = act(x<t> W_ih^T + b + h<t-1> W_hh^T).
enum class Nonlinearity : int { tanh = 0, relu = 1 };

template <class T>
struct RnnForwardArgs : ForwardArgs<T> {
  Nonlinearity act;
};

template <class T>
struct RnnBackwardArgs : BackwardArgs<T> {
  Nonlinearity act;
  T* db;  // (H,) or nullptr
};

// GRU in PyTorch's formulation, G = 3H, gate rows r, z, n:
//   r = σ(x W_ir^T + b_ir + h W_hr^T + b_hr),  z = σ(x W_iz^T + b_iz + h W_hz^T + b_hz)
//   n = tanh(x W_in^T + b_in + r ⊙ (h W_hn^T + b_hn)),  h' = (1 - z) ⊙ n + z ⊙ h
// bias = b_ih + (b_hr, b_hz, 0); b_hn stays inside r ⊙ (...).
// reset_before (Cho et al. 2014, Keras reset_after=False, ONNX linear_before_reset=0):
//   n = tanh(x W_in^T + b_in + (r ⊙ h) W_hn^T + b_hn), and bias = b_ih + b_hh.
template <class T>
struct GruForwardArgs : ForwardArgs<T> {
  const T* b_hn;  // (H,) or nullptr; unused with reset_before
  T* gates;       // training only: (T, B, 4H): r, z, n and hn = h<t-1> W_hn^T + b_hn
                  // (reset_before: r ⊙ h<t-1>, the operand of W_hn)
  bool reset_before;
};

template <class T>
struct GruBackwardArgs : BackwardArgs<T> {
  const T* gates;  // (T, B, 4H)
  T* db_ih;        // (3H,) or nullptr
  T* db_hh;        // (3H,) or nullptr
  bool reset_before;
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

// The scalars of one Adam step, each already in T (a Python float meets a
// float32 array as a float32), for p, m, v updated from g in place:
//   g ← g + weight_decay·p                   (if weight_decay != 0: L2, Adam's form)
//   m ← beta1·m + one_minus_beta1·g
//   v ← beta2·v + one_minus_beta2·(g·g)
//   p ← p − step_size·(m / (sqrt(v) / bias2_sqrt + eps))
// with step_size = lr / (1 − beta1^k), bias2_sqrt = sqrt(1 − beta2^k). p, m
// and v must not overlap each other or g.
template <class T>
struct AdamStep {
  T beta1, one_minus_beta1, beta2, one_minus_beta2, step_size, bias2_sqrt, eps, weight_decay;
};

template <class T>
struct TypedKernels {
  void (*lstm_forward)(const LstmForwardArgs<T>&);
  void (*lstm_backward)(const LstmBackwardArgs<T>&);
  void (*rnn_forward)(const RnnForwardArgs<T>&);
  void (*rnn_backward)(const RnnBackwardArgs<T>&);
  void (*gru_forward)(const GruForwardArgs<T>&);
  void (*gru_backward)(const GruBackwardArgs<T>&);
  void (*gemm)(const GemmArgs<T>&);
  // Elementwise, exposed so the tests can measure their error against libm.
  void (*sigmoid)(const T* x, T* y, index_t n);
  void (*tanh)(const T* x, T* y, index_t n);
  void (*adam_update)(T* p, const T* g, T* m, T* v, index_t n, const AdamStep<T>& s);
  // PackedWeights of this table's layout: their sizes, and W_ih and W_hh
  // packed into buffers of those sizes (64-byte aligned).
  PackedSizes (*packed_sizes)(const PackSpec& s);
  void (*pack)(const PackSpec& s, const T* w_ih, const T* w_hh, void* w_hh_out, void* w_ih_out);
};

struct Kernels {
  const char* isa;  // "portable", "avx2", "avx512"
  int vector_bytes;
  TypedKernels<float> f32;
  TypedKernels<double> f64;
  const char* f64_isa;  // the set f64's entries come from (avx512's are avx2's)
  // Inference with bfloat16 products and float32 sums and state
  // (kernels/bf16.h): the forward entries only (the GRU's without
  // reset_before), or nullptr where this ISA or CPU has none (AVX512_BF16):
  // callers then run f32.
  const TypedKernels<float>* bf16;
};

// Each compiled instruction set provides one table (see isa/*.cpp).
const Kernels& kernels_portable();
#if defined(LSTMFAST_HAVE_AVX2)
const Kernels& kernels_avx2();
#endif
#if defined(LSTMFAST_HAVE_AVX512)
const Kernels& kernels_avx512();
#endif
#if defined(LSTMFAST_HAVE_AVX512_BF16)
const TypedKernels<float>& kernels_avx512_bf16();
#endif

template <class T>
const TypedKernels<T>& typed(const Kernels& k);
template <>
inline const TypedKernels<float>& typed<float>(const Kernels& k) { return k.f32; }
template <>
inline const TypedKernels<double>& typed<double>(const Kernels& k) { return k.f64; }

}  // namespace lstmfast
