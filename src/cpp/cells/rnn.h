// Vanilla RNN forward and BPTT, for one instruction set: the LSTM's
// algorithm (lstm.h) with one gate, h<t> = act(x<t> W_ih^T + b + h<t-1> W_hh^T).
#pragma once

#include "../kernels/activations.h"
#include "../kernels/epilogue.h"
#include "../kernels/plans.h"
#include "../kernels/weight_gradients.h"

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

template <class T>
void rnn_forward(const RnnForwardArgs<T>& a) {
  constexpr int W = kWidth<T>;
  const index_t T_ = a.d.T, B = a.d.B, I = a.d.I, H = a.d.H, BH = B * H;
  const Sequence seq{T_, B, a.steps.lengths, a.steps.reverse};
  const bool training = a.h_all != nullptr;
  if (training) set_initial_slots(seq, H, a.h0, a.h_all);
  zero_padding(seq, H, a.y, a.ldy);
  if (T_ == 0 || B == 0) {
    copy(a.h_n, a.h0, BH);
    return;
  }
  const int nt_max = threads_for(2.0 * double(B) * double(H) * double(H), ceil_div(H, W), kStepFlopsPerThread);
  const int nv = units_nv<T>(H, nt_max);
  const index_t width = index_t(nv) * W, blocks = ceil_div(H, width);
  const int nt = static_cast<int>(min_i(nt_max, blocks));
  Buffer<T> panels(blocks * H * width);
  pack_forward_panels(a.w_hh, H, nv, false, panels.get());
  InputProjection<T> xp(seq, a.x, I, a.w_ih, a.bias, H, nt, nullptr);

  with_nv(nv, [&](auto nv_c) {
    constexpr int NV = decltype(nv_c)::value;
    auto step = [&](index_t t, index_t jb, const T* h_prev, T* h_next, T* partial) {
      // h<t> = act(x<t> W_ih^T + b (in xp) + h<t-1> W_hh^T (the tile))
      auto unit = [&](auto lanes, const V<T>& z, index_t r, index_t u) {
        if (!seq.active(t, r)) {  // past its end: the state stays
          lanes.store(h_next + r * H + u, lanes.load(h_prev + r * H + u));
          return;
        }
        const index_t tn = seq.time(t, r), row = seq.row(tn, r);
        const V<T> h = activate<T>(a.act, z + lanes.load(xp.row(row) + u));
        lanes.store(h_next + r * H + u, h);
        lanes.store(a.y + row * a.ldy + u, h);
        if (training) lanes.store(a.h_all + seq.slot_after(tn) * BH + r * H + u, h);
      };
      recurrent_block<T, kGemmMR, NV>(B, H, h_prev, H, panels.get() + jb * H * width, partial,
                                      units_epilogue<T, NV>(jb, H, unit));
    };
    forward_steps(seq, H, xp, nt, blocks, width, a.h0, a.h_n, step);
  });
}

template <class T>
void rnn_backward(const RnnBackwardArgs<T>& a) {
  constexpr int W = kWidth<T>;
  const index_t T_ = a.d.T, B = a.d.B, I = a.d.I, H = a.d.H, BH = B * H;
  const Sequence seq{T_, B, a.steps.lengths, a.steps.reverse};
  if (a.db) fill_zero(a.db, H);
  if (T_ == 0 || B == 0) {
    empty_backward(T_ * B * I, H, I, H, BH, a.dh_n, a.dh0, a.dx, a.accumulate_dx, a.dw_ih, a.dw_hh);
    return;
  }
  const BackwardPanels<T> wp(a.w_hh, H, H, B);
  Buffer<T> dg(T_ * BH);  // by natural time, zero at padded positions
  if (seq.lengths) fill_zero(dg.get(), T_ * BH);

  with_nv(wp.nv, [&](auto nv_c) {
    constexpr int NV = decltype(nv_c)::value;
    auto step = [&](index_t t, index_t jb, const T* dg_next, T* dg_step, T* partial) {
      // dh<t> = dy<t> + dG<t+1> W_hh (the tile; + dh_n at a sequence's last step);  dz<t> = dh<t> act'(z<t>)
      auto unit = [&](auto lanes, const V<T>& dhw, index_t r, index_t u) {
        if (!seq.active(t, r)) {
          lanes.store(dg_step + r * H + u, V<T>{});
          return;
        }
        const index_t tn = seq.time(t, r), row = seq.row(tn, r);
        V<T> dh = dhw + lanes.load(a.dy + row * a.ldy + u);
        if (a.dh_n && t == seq.length(r) - 1) dh += lanes.load(a.dh_n + r * H + u);
        const V<T> h = lanes.load(a.h_all + seq.slot_after(tn) * BH + r * H + u);
        const V<T> dz = dh * activation_slope<T>(a.act, h);
        lanes.store(dg.get() + row * H + u, dz);
        lanes.store(dg_step + r * H + u, dz);
        if (a.db) lanes.store(a.db + u, lanes.load(a.db + u) + dz);  // fixed order per column
      };
      recurrent_block<T, kGemmMR, NV>(B, dg_next ? H : 0, dg_next, H, wp.panel(jb), partial,
                                      units_epilogue<T, NV>(jb, H, unit));
    };
    auto initial = [&](index_t jb, const T* dg_first, T* partial) {
      auto store = [&](auto lanes, const V<T>& d, index_t r, index_t u) { lanes.store(a.dh0 + r * H + u, d); };
      recurrent_block<T, kGemmMR, NV>(B, H, dg_first, H, wp.panel(jb), partial, units_epilogue<T, NV>(jb, H, store));
    };
    backward_steps(wp, T_, B, step, initial);
  });
  weight_gradients(T_ * B, H, I, H, dg.get(), dg.get(), a.x, a.h_all + seq.previous_states_offset() * H, a.w_ih,
                   a.dx, a.accumulate_dx, a.dw_ih, a.dw_hh);
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
