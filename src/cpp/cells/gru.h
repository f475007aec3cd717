// GRU forward and BPTT, for one instruction set, in PyTorch's formulation
// (api.h): the LSTM's algorithm (lstm.h) with three gates. The register tile
// holds h<t-1> W_hh^T for r, z and n of the same W units; the recurrent bias
// of n is added on the tile, because the reset gate multiplies it.
//
// Backward, per unit (dh from the next step's product, dy and the carry):
//   dn = dh (1 - z),  dz = dh (h<t-1> - n),  dn' = dn (1 - n²)
//   dr' = dn' hn r (1 - r),  dz' = dz z (1 - z),  carried dh<t-1> += dh z
// The input side sees (dr', dz', dn'); the recurrent side (dr', dz', dn' r),
// so the GRU keeps two dG arrays and two weight products.
#pragma once

#include "../kernels/activations.h"
#include "../kernels/epilogue.h"
#include "../kernels/plans.h"
#include "../kernels/weight_gradients.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

template <class T>
void gru_forward(const GruForwardArgs<T>& a) {
  constexpr int W = kWidth<T>;
  const index_t T_ = a.d.T, B = a.d.B, I = a.d.I, H = a.d.H, G = 3 * H, BH = B * H;
  const Sequence seq{T_, B, a.steps.lengths, a.steps.reverse};
  const bool training = a.gates != nullptr;
  if (training) set_initial_slots(seq, H, a.h0, a.h_all);
  zero_padding(seq, H, a.y, a.ldy);
  if (T_ == 0 || B == 0) {
    copy(a.h_n, a.h0, BH);
    return;
  }
  const index_t blocks = ceil_div(H, W);
  const int nt = threads_for(2.0 * double(B) * double(G) * double(H), blocks, kStepFlopsPerThread);
  Buffer<T> panels(blocks * H * 3 * W);
  pack_forward_panels(a.w_hh, H, 3, true, panels.get());
  InputProjection<T> xp(seq, a.x, I, a.w_ih, a.bias, G, nt, nullptr);

  auto step = [&](index_t t, index_t jb, const T* h_prev, T* h_next, T* partial) {
    const index_t j = jb * W;
    with_lanes<T>(static_cast<int>(min_i(W, H - j)), [&](auto lanes) {
      const V<T> b_hn = a.b_hn ? lanes.load(a.b_hn + j) : V<T>{};
      auto cell = [&](const auto& zh, index_t b0) {
#pragma GCC unroll 8
        for (int m = 0; m < rows_of(zh); ++m) {
          const index_t r = b0 + m;
          const V<T> hp = lanes.load(h_prev + r * H + j);
          if (!seq.active(t, r)) {
            lanes.store(h_next + r * H + j, hp);
            continue;
          }
          const index_t tn = seq.time(t, r), row = seq.row(tn, r);
          const T* xr = xp.row(row) + j;
          const V<T> rg = sigmoid<T>(zh[m][0] + lanes.load(xr));
          const V<T> zg = sigmoid<T>(zh[m][1] + lanes.load(xr + H));
          const V<T> hn = zh[m][2] + b_hn;
          const V<T> ng = tanh<T>(lanes.load(xr + 2 * H) + rg * hn);
          const V<T> h = ng + zg * (hp - ng);  // (1 - z) n + z h<t-1>
          lanes.store(h_next + r * H + j, h);
          lanes.store(a.y + row * a.ldy + j, h);
          if (training) {
            T* s = a.gates + row * 4 * H + j;
            lanes.store(s, rg);
            lanes.store(s + H, zg);
            lanes.store(s + 2 * H, ng);
            lanes.store(s + 3 * H, hn);
            lanes.store(a.h_all + seq.slot_after(tn) * BH + r * H + j, h);
          }
        }
      };
      recurrent_block<T, kGruMR, 3>(B, H, h_prev, H, panels.get() + jb * H * 3 * W, partial, cell);
    });
  };
  forward_steps(seq, H, xp, nt, blocks, 3 * W, a.h0, a.h_n, step);
}

template <class T>
void gru_backward(const GruBackwardArgs<T>& a) {
  constexpr int W = kWidth<T>;
  const index_t T_ = a.d.T, B = a.d.B, I = a.d.I, H = a.d.H, G = 3 * H, BH = B * H;
  const Sequence seq{T_, B, a.steps.lengths, a.steps.reverse};
  if (a.db_ih) fill_zero(a.db_ih, G);
  if (a.db_hh) fill_zero(a.db_hh, G);
  if (T_ == 0 || B == 0) {
    empty_backward(T_ * B * I, G, I, H, BH, a.dh_n, a.dh0, a.dx, a.accumulate_dx, a.dw_ih, a.dw_hh);
    return;
  }
  const BackwardPanels<T> wp(a.w_hh, G, H, B);
  // dG of the input side and of the recurrent side, by natural time (zero at
  // padding); dh carried through z to the previous step.
  Buffer<T> dg_x(T_ * B * G), dg_h(T_ * B * G);
  if (seq.lengths) {
    fill_zero(dg_x.get(), T_ * B * G);
    fill_zero(dg_h.get(), T_ * B * G);
  }
  Buffer<T> carry(BH);
  fill_zero(carry.get(), BH);

  with_nv(wp.nv, [&](auto nv_c) {
    constexpr int NV = decltype(nv_c)::value;
    auto step = [&](index_t t, index_t jb, const T* dg_next, T* dg_step, T* partial) {
      auto unit = [&](auto lanes, const V<T>& dhw, index_t r, index_t u) {
        if (!seq.active(t, r)) {
          for (int gate = 0; gate < 3; ++gate) lanes.store(dg_step + r * G + gate * H + u, V<T>{});
          return;
        }
        const index_t tn = seq.time(t, r), row = seq.row(tn, r);
        V<T> dh = dhw + lanes.load(a.dy + row * a.ldy + u) + lanes.load(carry.get() + r * H + u);
        if (a.dh_n && t == seq.length(r) - 1) dh += lanes.load(a.dh_n + r * H + u);
        const T* s = a.gates + row * 4 * H + u;
        const V<T> rg = lanes.load(s), zg = lanes.load(s + H), ng = lanes.load(s + 2 * H), hn = lanes.load(s + 3 * H);
        const V<T> hp = lanes.load(a.h_all + seq.slot_before(tn) * BH + r * H + u);
        const V<T> dnp = dh * (T(1) - zg) * (T(1) - ng * ng);
        const V<T> drp = dnp * hn * rg * (T(1) - rg);
        const V<T> dzp = dh * (hp - ng) * zg * (T(1) - zg);
        const V<T> dhn = dnp * rg;
        const V<T> dx3[3] = {drp, dzp, dnp}, dh3[3] = {drp, dzp, dhn};
        for (int gate = 0; gate < 3; ++gate) {
          lanes.store(dg_x.get() + row * G + gate * H + u, dx3[gate]);
          lanes.store(dg_h.get() + row * G + gate * H + u, dh3[gate]);
          lanes.store(dg_step + r * G + gate * H + u, dh3[gate]);
          if (a.db_ih) lanes.store(a.db_ih + gate * H + u, lanes.load(a.db_ih + gate * H + u) + dx3[gate]);
          if (a.db_hh) lanes.store(a.db_hh + gate * H + u, lanes.load(a.db_hh + gate * H + u) + dh3[gate]);
        }
        lanes.store(carry.get() + r * H + u, dh * zg);
      };
      recurrent_block<T, kGemmMR, NV>(B, dg_next ? G : 0, dg_next, G, wp.panel(jb), partial,
                                      units_epilogue<T, NV>(jb, H, unit));
    };
    // dh0 = dG_h<first step> W_hh + the carry through z.
    auto initial = [&](index_t jb, const T* dg_first, T* partial) {
      auto store = [&](auto lanes, const V<T>& d, index_t r, index_t u) {
        lanes.store(a.dh0 + r * H + u, d + lanes.load(carry.get() + r * H + u));
      };
      recurrent_block<T, kGemmMR, NV>(B, G, dg_first, G, wp.panel(jb), partial, units_epilogue<T, NV>(jb, H, store));
    };
    backward_steps(wp, T_, B, step, initial);
  });
  weight_gradients(T_ * B, G, I, H, dg_x.get(), dg_h.get(), a.x, a.h_all + seq.previous_states_offset() * H,
                   a.w_ih, a.dx, a.accumulate_dx, a.dw_ih, a.dw_hh);
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
