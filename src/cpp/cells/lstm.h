// LSTM forward and backpropagation through time, for one instruction set:
// the cell's math, run by kernels/forward_pass.h and kernels/backward_pass.h.
//
// Forward: the tile holds h<t-1> W_hh^T for the gates i, f, g, o of the same
// W hidden units, so the gate nonlinearities and the c/h update run right on
// it. Backward mirrors it: per step one tile product dG<t+1> W_hh gives dh<t>
// for a block of units and the cell's gradient equations run on that tile;
// after the loop dx, dW_ih, dW_hh are each one large product over all steps.
#pragma once

#include "../kernels/activations.h"
#include "../kernels/backward_pass.h"
#include "../kernels/forward_pass.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

template <class T>
void lstm_forward(const LstmForwardArgs<T>& a) {
  const index_t H = a.d.H, G = 4 * H, BH = a.d.B * H;
  const Sequence seq(a.d, a.steps);
  const bool training = a.h_all != nullptr;
  if (training) set_initial_slots(seq, H, a.c0, a.c_all);
  copy(a.c_n, a.c0, BH);  // c is updated in place in c_n
  //   z = x<t> W_ih^T + b (xz) + h<t-1> W_hh^T (zh)
  //   i, f, g, o = σ(z_i), σ(z_f), tanh(z_g), σ(z_o)
  //   c<t> = f c<t-1> + i g,   h<t> = o tanh(c<t>)
  auto cell = [&a, &seq, H, G, BH, training](auto lanes, const V<T> (&zh)[4], const T* xz, const T*,
                                              const At& at) LSTMFAST_INLINE_LAMBDA {
    const V<T> i = sigmoid<T>(zh[0] + lanes.load(xz));
    const V<T> f = sigmoid<T>(zh[1] + lanes.load(xz + H));
    const V<T> g = tanh<T>(zh[2] + lanes.load(xz + 2 * H));
    const V<T> o = sigmoid<T>(zh[3] + lanes.load(xz + 3 * H));
    T* c_state = a.c_n + at.r * H + at.u;
    const V<T> c = f * lanes.load(c_state) + i * g;
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
  forward_pass<T, kLstmMR, 4>(a, seq, a.gates, cell);
}

template <class T>
void lstm_backward(const LstmBackwardArgs<T>& a) {
  const index_t H = a.d.H, G = 4 * H, BH = a.d.B * H;
  const Sequence seq(a.d, a.steps);
  // dc0 doubles as the carried dc through the loop.
  if (a.dc_n) copy(a.dc0, a.dc_n, BH);
  else fill_zero(a.dc0, BH);
  if (a.db) fill_zero(a.db, G);
  if (!begin_backward(a, seq, G)) return;
  const StepGradients<T> dg(seq, G);
  //   dc    = dc<t+1 carried> + dh o (1 - tanh²c<t>)
  //   dz_i = dc g i(1-i),  dz_f = dc c<t-1> f(1-f),  dz_g = dc i (1-g²),
  //   dz_o = dh tanh(c<t>) o(1-o),  carried dc<t-1> = dc f
  auto cell = [&a, &seq, &dg, H, G, BH](auto lanes, const V<T>& dh, const At& at, T* dg_step) LSTMFAST_INLINE_LAMBDA {
    const index_t u = at.u;
    const T* s = a.gates + at.row * G + u;
    const V<T> i = lanes.load(s), f = lanes.load(s + H), g = lanes.load(s + 2 * H), o = lanes.load(s + 3 * H);
    const V<T> tc = tanh<T>(lanes.load(a.c_all + seq.slot_after(at.tn) * BH + at.r * H + u));
    const V<T> c_prev = lanes.load(a.c_all + seq.slot_before(at.tn) * BH + at.r * H + u);
    const V<T> dc = lanes.load(a.dc0 + at.r * H + u) + dh * o * (T(1) - tc * tc);
    const V<T> dz[4] = {dc * g * i * (T(1) - i), dc * c_prev * f * (T(1) - f), dc * i * (T(1) - g * g),
                        dh * tc * o * (T(1) - o)};
    for (int gate = 0; gate < 4; ++gate) {
      lanes.store(dg.get() + at.row * G + gate * H + u, dz[gate]);
      lanes.store(dg_step + at.r * G + gate * H + u, dz[gate]);
      // db summed here, in a fixed order (steps down, rows up) per column.
      if (a.db) lanes.store(a.db + gate * H + u, lanes.load(a.db + gate * H + u) + dz[gate]);
    }
    lanes.store(a.dc0 + at.r * H + u, dc * f);
  };
  backward_pass<T, 4>(a, seq, nullptr, cell);
  weight_gradients(a, seq, G, dg.get(), dg.get());
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
