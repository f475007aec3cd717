// LSTM forward and backpropagation through time, for one instruction set.
//
// Forward: the input projection x<t> W_ih^T + b for many steps is one GEMM;
// in the time loop only h<t-1> W_hh^T remains, computed by a register tile
// that holds the i, f, g, o pre-activations of the same W hidden units, so
// the gate nonlinearities and the c/h update run right on the tile.
// Threads own blocks of hidden units (their slice of W_hh stays in their
// cache for all T steps) and meet at one barrier per step.
//
// Backward mirrors it: per step one tile product dG<t+1> W_hh gives dh<t> for
// a block of units, and the cell's gradient equations run on that tile;
// after the loop dx, dW_ih, dW_hh and db are each one large product over all
// steps.
#pragma once

#include "../kernels/activations.h"
#include "../kernels/epilogue.h"
#include "../kernels/plans.h"
#include "../kernels/weight_gradients.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

template <class T>
void lstm_forward(const LstmForwardArgs<T>& a) {
  constexpr int W = kWidth<T>;
  const index_t T_ = a.d.T, B = a.d.B, I = a.d.I, H = a.d.H, G = 4 * H, BH = B * H;
  const Sequence seq{T_, B, a.steps.lengths, a.steps.reverse};
  const bool training = a.gates != nullptr;
  if (training) {
    set_initial_slots(seq, H, a.h0, a.h_all);
    set_initial_slots(seq, H, a.c0, a.c_all);
  }
  zero_padding(seq, H, a.y, a.ldy);
  // c is updated in place in c_n; h lives in forward_steps' buffers.
  copy(a.c_n, a.c0, BH);
  if (T_ == 0 || B == 0) {
    copy(a.h_n, a.h0, BH);
    return;
  }
  const index_t blocks = ceil_div(H, W);
  const int nt = threads_for(2.0 * double(B) * double(G) * double(H), blocks, kStepFlopsPerThread);
  Buffer<T> panels(blocks * H * 4 * W);
  pack_forward_panels(a.w_hh, H, 4, true, panels.get());
  // Training projects the whole sequence straight into the gates array.
  InputProjection<T> xp(seq, a.x, I, a.w_ih, a.bias, G, nt, a.gates);

  auto step = [&](index_t t, index_t jb, const T* h_prev, T* h_next, T* partial) {
    const index_t j = jb * W;
    with_lanes<T>(static_cast<int>(min_i(W, H - j)), [&](auto lanes) {
      // The tile holds h<t-1> W_hh^T for gates i, f, g, o of units j..j+W:
      //   z = x<t> W_ih^T + b (precomputed in xp) + h<t-1> W_hh^T
      //   i, f, g, o = σ(z_i), σ(z_f), tanh(z_g), σ(z_o)
      //   c<t> = f c<t-1> + i g,   h<t> = o tanh(c<t>)
      auto cell = [&](const auto& zh, index_t b0) {
        // Rows unrolled: their activations are independent chains the core can overlap.
#pragma GCC unroll 8
        for (int m = 0; m < rows_of(zh); ++m) {
          const index_t r = b0 + m;
          if (!seq.active(t, r)) {  // past its end: the state stays
            lanes.store(h_next + r * H + j, lanes.load(h_prev + r * H + j));
            continue;
          }
          const index_t tn = seq.time(t, r), row = seq.row(tn, r);
          const T* z = xp.row(row) + j;
          const V<T> i = sigmoid<T>(zh[m][0] + lanes.load(z));
          const V<T> f = sigmoid<T>(zh[m][1] + lanes.load(z + H));
          const V<T> g = tanh<T>(zh[m][2] + lanes.load(z + 2 * H));
          const V<T> o = sigmoid<T>(zh[m][3] + lanes.load(z + 3 * H));
          const V<T> c = f * lanes.load(a.c_n + r * H + j) + i * g;
          const V<T> h = o * tanh<T>(c);
          lanes.store(a.c_n + r * H + j, c);
          lanes.store(h_next + r * H + j, h);
          lanes.store(a.y + row * a.ldy + j, h);
          if (training) {
            T* s = a.gates + row * G + j;
            lanes.store(s, i);
            lanes.store(s + H, f);
            lanes.store(s + 2 * H, g);
            lanes.store(s + 3 * H, o);
            const index_t slot = seq.slot_after(tn) * BH + r * H + j;
            lanes.store(a.h_all + slot, h);
            lanes.store(a.c_all + slot, c);
          }
        }
      };
      recurrent_block<T, kLstmMR, 4>(B, H, h_prev, H, panels.get() + jb * H * 4 * W, partial, cell);
    });
  };
  forward_steps(seq, H, xp, nt, blocks, 4 * W, a.h0, a.h_n, step);
}

template <class T>
void lstm_backward(const LstmBackwardArgs<T>& a) {
  constexpr int W = kWidth<T>;
  const index_t T_ = a.d.T, B = a.d.B, I = a.d.I, H = a.d.H, G = 4 * H, BH = B * H;
  const Sequence seq{T_, B, a.steps.lengths, a.steps.reverse};
  // dc0 doubles as the carried dc through the loop.
  if (a.dc_n) copy(a.dc0, a.dc_n, BH);
  else fill_zero(a.dc0, BH);
  T* db = a.db;
  if (db) fill_zero(db, G);
  if (T_ == 0 || B == 0) {
    empty_backward(T_ * B * I, G, I, H, BH, a.dh_n, a.dh0, a.dx, a.accumulate_dx, a.dw_ih, a.dw_hh);
    return;
  }
  const BackwardPanels<T> wp(a.w_hh, G, H, B);
  // dG by natural time for the weight products (zero at padded positions).
  Buffer<T> dg(T_ * B * G);
  if (seq.lengths) fill_zero(dg.get(), T_ * B * G);

  with_nv(wp.nv, [&](auto nv_c) {
    constexpr int NV = decltype(nv_c)::value;
    auto step = [&](index_t t, index_t jb, const T* dg_next, T* dg_step, T* partial) {
      // The tile holds dG<t+1> W_hh for units jb*NV*W..; per unit:
      //   dh<t> = dy<t> + dG<t+1> W_hh  (+ dh_n at a sequence's last step)
      //   dc    = dc<t+1 carried> + dh o (1 - tanh²c<t>)
      //   dz_i = dc g i(1-i),  dz_f = dc c<t-1> f(1-f),  dz_g = dc i (1-g²),
      //   dz_o = dh tanh(c<t>) o(1-o),  carried dc<t-1> = dc f
      auto unit = [&](auto lanes, const V<T>& dhw, index_t r, index_t u) {
        if (!seq.active(t, r)) {  // padding: no gradient, dc stays
          for (int gate = 0; gate < 4; ++gate) lanes.store(dg_step + r * G + gate * H + u, V<T>{});
          return;
        }
        const index_t tn = seq.time(t, r), row = seq.row(tn, r);
        V<T> dh = dhw + lanes.load(a.dy + row * a.ldy + u);
        if (a.dh_n && t == seq.length(r) - 1) dh += lanes.load(a.dh_n + r * H + u);
        const T* s = a.gates + row * G + u;
        const V<T> i = lanes.load(s), f = lanes.load(s + H), g = lanes.load(s + 2 * H), o = lanes.load(s + 3 * H);
        const V<T> tc = tanh<T>(lanes.load(a.c_all + seq.slot_after(tn) * BH + r * H + u));
        const V<T> c_prev = lanes.load(a.c_all + seq.slot_before(tn) * BH + r * H + u);
        const V<T> dc = lanes.load(a.dc0 + r * H + u) + dh * o * (T(1) - tc * tc);
        const V<T> dz[4] = {dc * g * i * (T(1) - i), dc * c_prev * f * (T(1) - f), dc * i * (T(1) - g * g),
                            dh * tc * o * (T(1) - o)};
        for (int gate = 0; gate < 4; ++gate) {
          lanes.store(dg.get() + row * G + gate * H + u, dz[gate]);
          lanes.store(dg_step + r * G + gate * H + u, dz[gate]);
          // db summed here, in a fixed order (steps down, rows up) per column.
          if (db) lanes.store(db + gate * H + u, lanes.load(db + gate * H + u) + dz[gate]);
        }
        lanes.store(a.dc0 + r * H + u, dc * f);
      };
      recurrent_block<T, kGemmMR, NV>(B, dg_next ? G : 0, dg_next, G, wp.panel(jb), partial,
                                      units_epilogue<T, NV>(jb, H, unit));
    };
    // dh0 = dG<first step> W_hh: the gradient reaching the initial state.
    auto initial = [&](index_t jb, const T* dg_first, T* partial) {
      auto store = [&](auto lanes, const V<T>& d, index_t r, index_t u) { lanes.store(a.dh0 + r * H + u, d); };
      recurrent_block<T, kGemmMR, NV>(B, G, dg_first, G, wp.panel(jb), partial, units_epilogue<T, NV>(jb, H, store));
    };
    backward_steps(wp, T_, B, step, initial);
  });
  weight_gradients(T_ * B, G, I, H, dg.get(), dg.get(), a.x, a.h_all + seq.previous_states_offset() * H, a.w_ih,
                   a.dx, a.accumulate_dx, a.dw_ih, a.dw_hh);
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
