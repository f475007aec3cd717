// LSTM forward and backpropagation through time, for one instruction set:
// the cell's math, run by kernels/forward_pass.h and kernels/backward_pass.h.
//
// Forward: the tile holds h<t-1> W_hh^T for the gates i, f, g, o of the same
// W hidden units, so the gate nonlinearities and the c/h update run right on
// it. Backward mirrors it: per step one tile product dG<t+1> W_hh gives dh<t>
// for a block of units and the cell's gradient equations run on that tile;
// after the loop dx, dW_ih, dW_hh are each one large product over all steps.
//
// ONNX's options (peepholes, clip, input_forget) are a second instantiation
// of the same code (`Options`), so the plain LSTM runs exactly as without
// them; within it each option is a test per vector, the same for every row.
// float64 has only that instantiation (kOptionFreePath, forward_pass.h).
#pragma once

#include "../kernels/activations.h"
#include "../kernels/backward_pass.h"
#include "../kernels/forward_pass.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// Pass: SamePrecision, or Bf16Products (kernels/bf16.h) for inference with
// bfloat16 products.
template <class T, bool Options, class Pass>
void lstm_forward_cells(const LstmForwardArgs<T>& a) {
  const index_t H = a.d.H, G = 4 * H, BH = a.d.B * H;
  const Sequence seq(a.d, a.steps);
  const bool training = a.h_all != nullptr;
  if (training) set_initial_slots(seq, H, a.c0, a.c_all);
  copy(a.c_n, a.c0, BH);  // c is updated in place in c_n
  //   z = x<t> W_ih^T + b (xz) + h<t-1> W_hh^T (zh)
  //   [options: z_i += p_i c<t-1>, z_f += p_f c<t-1>; z clipped to [-clip, clip]]
  //   i, f, g, o = σ(z_i), σ(z_f) [or 1 - i], tanh(z_g), σ(z_o)
  //   c<t> = f c<t-1> + i g,   [options: z_o += p_o c<t>],   h<t> = o tanh(c<t>)
  auto cell = [&a, &seq, H, G, BH, training](auto lanes, const V<T> (&zh)[4], const T* xz, const T*,
                                              const At& at) LSTMFAST_INLINE_LAMBDA {
    T* c_state = a.c_n + at.r * H + at.u;
    V<T> z[4] = {zh[0] + lanes.load(xz), zh[1] + lanes.load(xz + H), zh[2] + lanes.load(xz + 2 * H),
                 zh[3] + lanes.load(xz + 3 * H)};
    [[maybe_unused]] T* pre = nullptr;
    if constexpr (Options) {
      if (a.peepholes) {
        const V<T> c_prev = lanes.load(c_state);
        z[0] += lanes.load(a.peepholes + at.u) * c_prev;
        z[1] += lanes.load(a.peepholes + H + at.u) * c_prev;
      }
      if (a.clip > T(0)) {
        if (training) pre = a.preact + at.row * G + at.u;
        for (int k = 0; k < 3; ++k) {
          if (pre) lanes.store(pre + k * H, z[k]);
          z[k] = clamp_magnitude<T>(z[k], a.clip);
        }
      }
    }
    const V<T> i = sigmoid<T>(z[0]);
    const V<T> f = Options && a.input_forget ? T(1) - i : sigmoid<T>(z[1]);
    const V<T> g = tanh<T>(z[2]);
    V<T> o;
    if constexpr (!Options) o = sigmoid<T>(z[3]);
    const V<T> c = f * lanes.load(c_state) + i * g;
    if constexpr (Options) {
      if (a.peepholes) z[3] += lanes.load(a.peepholes + 2 * H + at.u) * c;
      if (a.clip > T(0)) {
        if (pre) lanes.store(pre + 3 * H, z[3]);
        z[3] = clamp_magnitude<T>(z[3], a.clip);
      }
      o = sigmoid<T>(z[3]);
    }
    lanes.store(c_state, c);
    if (training) {
      T* s = a.gates + at.row * G + at.u;
      lanes.store(s, i);
      lanes.store(s + H, f);
      lanes.store(s + 2 * H, g);
      lanes.store(s + 3 * H, o);
      lanes.store(a.c_all + seq.slot_after(at.tn) * BH + at.r * H + at.u, c);
    }
    return o * tanh<T>(c);
  };
  // Training projects the whole sequence straight into the gates array.
  Pass::template forward<T, kLstmMR, 4>(a, seq, a.gates, cell);
}

template <class T, class Pass = SamePrecision>
void lstm_forward(const LstmForwardArgs<T>& a) {
  if constexpr (kOptionFreePath<T>)
    if (!a.peepholes && !(a.clip > T(0)) && !a.input_forget) return lstm_forward_cells<T, false, Pass>(a);
  lstm_forward_cells<T, true, Pass>(a);
}

template <class T, bool Options>
void lstm_backward_cells(const LstmBackwardArgs<T>& a) {
  const index_t H = a.d.H, G = 4 * H, BH = a.d.B * H;
  const Sequence seq(a.d, a.steps);
  // dc0 doubles as the carried dc through the loop.
  if (a.dc_n) copy(a.dc0, a.dc_n, BH);
  else fill_zero(a.dc0, BH);
  if (a.db) fill_zero(a.db, G);
  if (Options && a.peepholes) fill_zero(a.dpeepholes, 3 * H);
  if (!begin_backward(a, seq, G)) return;
  const index_t chunk_steps = ChunkedWeightGradients<T>::steps_per_chunk(seq);
  const StepGradients<T> dg(seq, G, chunk_steps);
  //   dz_o = dh tanh(c<t>) o(1-o)
  //   dc   = dc<t+1 carried> + dh o (1 - tanh²c<t>) [+ dz_o p_o]
  //   dz_i = dc g i(1-i),  dz_f = dc c<t-1> f(1-f),  dz_g = dc i (1-g²)
  //          [input_forget: dz_i = dc (g - c<t-1>) i(1-i), dz_f = 0; clip: 0 where clipped]
  //   carried dc<t-1> = dc f [+ dz_i p_i + dz_f p_f]
  const bool ahead = tape_beyond_l2<T>(seq, G);
  auto cell = [&a, &seq, &dg, H, G, BH, ahead](auto lanes, const V<T>& dh, const At& at,
                                               T* dg_step) LSTMFAST_INLINE_LAMBDA {
    const index_t u = at.u;
    const T* s = a.gates + at.row * G + u;
    const index_t next = ahead ? seq.next_backward(at.tn) : -1;
    if (next >= 0) {  // the tape rows of the next step (prefetch, simd.h)
      for (int gate = 0; gate < 4; ++gate) prefetch(a.gates + seq.row(next, at.r) * G + gate * H + u);
      prefetch(a.c_all + seq.slot_before(next) * BH + at.r * H + u);
    }
    const V<T> i = lanes.load(s), f = lanes.load(s + H), g = lanes.load(s + 2 * H), o = lanes.load(s + 3 * H);
    const V<T> c = lanes.load(a.c_all + seq.slot_after(at.tn) * BH + at.r * H + u);
    const V<T> tc = tanh<T>(c);
    const V<T> c_prev = lanes.load(a.c_all + seq.slot_before(at.tn) * BH + at.r * H + u);
    V<T> dz[4];
    V<T> dc = lanes.load(a.dc0 + at.r * H + u) + dh * o * (T(1) - tc * tc);
    V<T> dc_prev;
    if constexpr (!Options) {
      dz[0] = dc * g * i * (T(1) - i);
      dz[1] = dc * c_prev * f * (T(1) - f);
      dz[2] = dc * i * (T(1) - g * g);
      dz[3] = dh * tc * o * (T(1) - o);
      dc_prev = dc * f;
    } else {
      const T* p = a.peepholes;
      const bool clipped = a.clip > T(0);
      const V<T> clip = set1<T>(a.clip);
      const T* pre = clipped ? a.preact + at.row * G + u : nullptr;
      dz[3] = dh * tc * o * (T(1) - o);
      if (clipped) dz[3] = through_clip<T>(dz[3], lanes.load(pre + 3 * H), clip);
      if (p) dc += dz[3] * lanes.load(p + 2 * H + u);
      const V<T> df = dc * c_prev;
      if (a.input_forget) {
        dz[0] = (dc * g - df) * i * (T(1) - i);
        dz[1] = V<T>{};
      } else {
        dz[0] = dc * g * i * (T(1) - i);
        dz[1] = df * f * (T(1) - f);
      }
      dz[2] = dc * i * (T(1) - g * g);
      if (clipped)
        for (int k = 0; k < 3; ++k) dz[k] = through_clip<T>(dz[k], lanes.load(pre + k * H), clip);
      dc_prev = dc * f;
      if (p) {
        dc_prev += dz[0] * lanes.load(p + u) + dz[1] * lanes.load(p + H + u);
        // Summed like db: steps down, rows up, per column.
        T* dp = a.dpeepholes + u;
        lanes.store(dp, lanes.load(dp) + dz[0] * c_prev);
        lanes.store(dp + H, lanes.load(dp + H) + dz[1] * c_prev);
        lanes.store(dp + 2 * H, lanes.load(dp + 2 * H) + dz[3] * c);
      }
    }
    for (int gate = 0; gate < 4; ++gate) {
      lanes.store(dg_step + at.r * G + gate * H + u, dz[gate]);
      if (!dg.in_place()) lanes.store(dg.row(at.row) + gate * H + u, dz[gate]);
      // db summed here, in a fixed order (steps down, rows up) per column.
      if (a.db) lanes.store(a.db + gate * H + u, lanes.load(a.db + gate * H + u) + dz[gate]);
    }
    lanes.store(a.dc0 + at.r * H + u, dc_prev);
  };
  ChunkedWeightGradients<T> chunks(a, seq, G, chunk_steps, dg.get());
  backward_pass<T, 4>(a, seq, nullptr, cell, chunks, &dg);
  if (chunk_steps > 0) chunks.finish();
  else weight_gradients(a, seq, G, dg.get(), dg.get());
}

template <class T>
void lstm_backward(const LstmBackwardArgs<T>& a) {
  if constexpr (kOptionFreePath<T>)
    if (!a.peepholes && !(a.clip > T(0)) && !a.input_forget) return lstm_backward_cells<T, false>(a);
  lstm_backward_cells<T, true>(a);
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
