// Vanilla RNN forward and BPTT, for one instruction set: the cell's math, run
// by kernels/forward_pass.h and kernels/backward_pass.h with one gate,
// h<t> = act(x<t> W_ih^T + b + h<t-1> W_hh^T).
#pragma once

#include "../kernels/activations.h"
#include "../kernels/backward_pass.h"
#include "../kernels/forward_pass.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

template <class T>
inline V<T> activate(Nonlinearity act, V<T> z) {
  return act == Nonlinearity::tanh ? tanh<T>(z) : relu<T>(z);
}

// act'(z) from h = act(z): tanh' = 1 - h², relu' = [h > 0].
template <class T>
inline V<T> activation_slope(Nonlinearity act, V<T> h) {
  if (act == Nonlinearity::tanh) return T(1) - h * h;
  return select<T>(h > T(0), set1<T>(T(1)), set1<T>(T(0)));
}

// ONNX's clip is a second instantiation (`Clip`): the pre-activation is
// clipped before the nonlinearity and kept (training) for the gradient, when
// clip > 0. float64 has only this instantiation (kOptionFreePath,
// forward_pass.h).
// Pass: SamePrecision, or Bf16Products (kernels/bf16.h).
template <class T, bool Clip, class Pass>
void rnn_forward_cells(const RnnForwardArgs<T>& a) {
  auto cell = [&](auto lanes, const V<T>& zh, const T* xz, const T*, const At& at) LSTMFAST_INLINE_LAMBDA {
    V<T> z = zh + lanes.load(xz);
    if constexpr (Clip) {
      if (a.clip > T(0)) {
        if (a.h_all) lanes.store(a.preact + at.row * a.d.H + at.u, z);
        z = clamp_magnitude<T>(z, a.clip);
      }
    }
    return activate<T>(a.act, z);
  };
  const Sequence seq(a.d, a.steps);
  Pass::template forward<T, kGemmMR, 1>(a, seq, nullptr, cell);
}

template <class T, class Pass = SamePrecision>
void rnn_forward(const RnnForwardArgs<T>& a) {
  if constexpr (kOptionFreePath<T>)
    if (!(a.clip > T(0))) return rnn_forward_cells<T, false, Pass>(a);
  rnn_forward_cells<T, true, Pass>(a);
}

template <class T, bool Clip>
void rnn_backward_cells(const RnnBackwardArgs<T>& a) {
  const index_t H = a.d.H, BH = a.d.B * H;
  const Sequence seq(a.d, a.steps);
  if (a.db) fill_zero(a.db, H);
  if (!begin_backward(a, seq, H)) return;
  const index_t chunk_steps = ChunkedWeightGradients<T>::steps_per_chunk(seq);
  const StepGradients<T> dg(seq, H, chunk_steps);
  // dz<t> = dh<t> act'(z<t>) [0 where z<t> was clipped]
  auto cell = [&a, &seq, &dg, H, BH](auto lanes, const V<T>& dh, const At& at, T* dg_step) LSTMFAST_INLINE_LAMBDA {
    const V<T> h = lanes.load(a.h_all + seq.slot_after(at.tn) * BH + at.r * H + at.u);
    V<T> dz = dh * activation_slope<T>(a.act, h);
    if constexpr (Clip)
      if (a.clip > T(0)) dz = through_clip<T>(dz, lanes.load(a.preact + at.row * H + at.u), set1<T>(a.clip));
    lanes.store(dg_step + at.r * H + at.u, dz);
    if (!dg.in_place()) lanes.store(dg.row(at.row) + at.u, dz);
    if (a.db) lanes.store(a.db + at.u, lanes.load(a.db + at.u) + dz);  // fixed order per column
  };
  ChunkedWeightGradients<T> chunks(a, seq, H, chunk_steps, dg.get());
  backward_pass<T, 1>(a, seq, nullptr, cell, chunks, &dg);
  if (chunk_steps > 0) chunks.finish();
  else weight_gradients(a, seq, H, dg.get(), dg.get());
}

template <class T>
void rnn_backward(const RnnBackwardArgs<T>& a) {
  if constexpr (kOptionFreePath<T>)
    if (!(a.clip > T(0))) return rnn_backward_cells<T, false>(a);
  rnn_backward_cells<T, true>(a);
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
