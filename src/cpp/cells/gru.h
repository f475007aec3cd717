// GRU forward and BPTT, for one instruction set (api.h): the cell's math, run
// by kernels/forward_pass.h and kernels/backward_pass.h.
//
// PyTorch's formulation (the reset gate after the recurrent product): the
// register tile holds h<t-1> W_hh^T for r, z and n of the same W units; the
// recurrent bias of n is added on the tile, because the reset gate multiplies
// it. Backward, per unit (dh from the next step's product, dy and the carry):
//   dn = dh (1 - z),  dz = dh (h<t-1> - n),  dn' = dn (1 - n²)
//   dr' = dn' hn r (1 - r),  dz' = dz z (1 - z),  carried dh<t-1> += dh z
// The input side sees (dr', dz', dn'); the recurrent side (dr', dz', dn' r),
// so this GRU keeps two dG arrays and two weight products.
//
// The reset gate before the product (reset_before): n needs (r ⊙ h<t-1>)
// W_hn^T, and r of every unit, so each step is two products with a barrier
// between: h<t-1> W_{hr,hz}^T (r, z and the operand r ⊙ h<t-1> in its
// epilogue), then (r ⊙ h<t-1>) W_hn^T (n and h<t>). Backward likewise:
//   dn' = dh (1 - z)(1 - n²), dz' = dh (h<t-1> - n) z (1 - z) from the first
//   product, da = dn' W_hn from the second, then dr' = da h<t-1> r (1 - r)
//   and carried dh<t-1> = dh z + da r.
// One dG serves both sides; W_hn's gradient multiplies r ⊙ h<t-1>, kept in
// the tape's fourth gate block.
//
// ONNX's clip is a second instantiation of the first formulation (`Clip`):
// the pre-activations are clipped before their nonlinearity and kept
// (training) for the gradient.
// float64 has only the Clip instantiation (kOptionFreePath, forward_pass.h).
#pragma once

#include "../kernels/activations.h"
#include "../kernels/backward_pass.h"
#include "../kernels/forward_pass.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// The pre-activation z of a gate as its nonlinearity sees it: in the Clip
// instantiations, if clip > 0, kept in `pre` (training) and clipped; in the
// others, z itself.
template <class T, bool Clip, class Lanes>
LSTMFAST_INLINE V<T> clipped(Lanes lanes, V<T> z, T clip, T* pre) {
  if constexpr (Clip) {
    if (clip > T(0)) {
      if (pre) lanes.store(pre, z);
      return clamp_magnitude<T>(z, clip);
    }
  }
  (void)lanes, (void)pre;
  return z;
}

// The gradient d of a gate's pre-activation through its clip (the forward's
// pre-activation read from `pre`).
template <class T, bool Clip, class Lanes>
LSTMFAST_INLINE V<T> unclipped(Lanes lanes, V<T> d, T clip, const T* pre) {
  if constexpr (Clip) {
    if (clip > T(0)) return through_clip<T>(d, lanes.load(pre), set1<T>(clip));
  }
  (void)lanes, (void)pre;
  return d;
}

// Pass: SamePrecision, or Bf16Products (kernels/bf16.h).
template <class T, bool Clip, class Pass>
void gru_forward_reset_after(const GruForwardArgs<T>& a) {
  const index_t H = a.d.H, G = 3 * H;
  const Sequence seq(a.d, a.steps);
  const bool training = a.h_all != nullptr;
  auto cell = [&a, H, G, training](auto lanes, const V<T> (&zh)[3], const T* xz, const T* hp,
                                   const At& at) LSTMFAST_INLINE_LAMBDA {
    T* pre = Clip && training && a.preact ? a.preact + at.row * G + at.u : nullptr;
    const V<T> rg = sigmoid<T>(clipped<T, Clip>(lanes, zh[0] + lanes.load(xz), a.clip, pre));
    const V<T> zg = sigmoid<T>(clipped<T, Clip>(lanes, zh[1] + lanes.load(xz + H), a.clip, pre ? pre + H : pre));
    const V<T> hn = zh[2] + (a.b_hn ? lanes.load(a.b_hn + at.u) : V<T>{});
    const V<T> ng = tanh<T>(clipped<T, Clip>(lanes, lanes.load(xz + 2 * H) + rg * hn, a.clip, pre ? pre + 2 * H : pre));
    if (training) {
      T* s = a.gates + at.row * 4 * H + at.u;
      lanes.store(s, rg);
      lanes.store(s + H, zg);
      lanes.store(s + 2 * H, ng);
      lanes.store(s + 3 * H, hn);
    }
    return ng + zg * (lanes.load(hp) - ng);  // (1 - z) n + z h<t-1>
  };
  // A step from the weights' rows sums x W_ih^T and h W_hh^T for r and z only.
  Pass::template forward<T, kGruMR, 3, 2>(a, seq, nullptr, cell);
}

// One instantiation, clipping or not as a.clip says (a new path: no plain
// twin to keep as fast as before, and one fewer copy of the code).
template <class T>
void gru_forward_reset_before(const GruForwardArgs<T>& a) {
  constexpr bool Clip = true;
  const index_t H = a.d.H, B = a.d.B, G = 3 * H;
  const Sequence seq(a.d, a.steps);
  const bool training = a.h_all != nullptr;
  // The weight gradients read the tape's r ⊙ h<t-1> at padded positions too
  // (times zero gradients): the bindings zero the tape's gates there after
  // this call (bindings/cell.h), as they zero its x.
  // From the first product to the second: r ⊙ h<t-1>, the operand of W_hn,
  // and z.
  Buffer<T> operand(B * H), update(B * H);
  T *rh_all = operand.get(), *z_all = update.get();
  auto first = [&a, H, G, training, rh_all, z_all](auto lanes, const V<T> (&zh)[2], const T* xz, const T* hp,
                                                  const At& at) LSTMFAST_INLINE_LAMBDA {
    T* pre = Clip && training && a.preact ? a.preact + at.row * G + at.u : nullptr;
    const V<T> rg = sigmoid<T>(clipped<T, Clip>(lanes, zh[0] + lanes.load(xz), a.clip, pre));
    const V<T> zg = sigmoid<T>(clipped<T, Clip>(lanes, zh[1] + lanes.load(xz + H), a.clip, pre ? pre + H : pre));
    const V<T> rh = rg * lanes.load(hp);
    lanes.store(rh_all + at.r * H + at.u, rh);
    lanes.store(z_all + at.r * H + at.u, zg);
    if (training) {
      T* s = a.gates + at.row * 4 * H + at.u;
      lanes.store(s, rg);
      lanes.store(s + H, zg);
      lanes.store(s + 3 * H, rh);
    }
  };
  auto cell = [&a, H, G, training, z_all](auto lanes, const V<T>& zh, const T* xz, const T* hp,
                                          const At& at) LSTMFAST_INLINE_LAMBDA {
    T* pre = Clip && training && a.preact ? a.preact + at.row * G + 2 * H + at.u : nullptr;
    const V<T> ng = tanh<T>(clipped<T, Clip>(lanes, zh + lanes.load(xz + 2 * H), a.clip, pre));
    const V<T> zg = lanes.load(z_all + at.r * H + at.u);
    if (training) lanes.store(a.gates + at.row * 4 * H + 2 * H + at.u, ng);
    return ng + zg * (lanes.load(hp) - ng);
  };
  forward_pass_two_products<T, kGruMR, 3>(a, seq, rh_all, first, cell);
}

template <class T>
void gru_forward(const GruForwardArgs<T>& a) {
  if (a.reset_before) return gru_forward_reset_before<T>(a);
  if constexpr (kOptionFreePath<T>)
    if (!(a.clip > T(0))) return gru_forward_reset_after<T, false, SamePrecision>(a);
  gru_forward_reset_after<T, true, SamePrecision>(a);
}

template <class T, bool Clip>
void gru_backward_reset_after(const GruBackwardArgs<T>& a) {
  const index_t H = a.d.H, G = 3 * H, BH = a.d.B * H;
  const Sequence seq(a.d, a.steps);
  if (a.db_ih) fill_zero(a.db_ih, G);
  if (a.db_hh) fill_zero(a.db_hh, G);
  if (!begin_backward(a, seq, G)) return;
  // dG of the input side and of the recurrent side; dh carried through z to
  // the previous step.
  const StepGradients<T> dg_x(seq, G), dg_h(seq, G);
  Buffer<T> carry(BH);
  fill_zero(carry.get(), BH);
  const bool ahead = tape_beyond_l2<T>(seq, 4 * H);
  auto cell = [&a, &seq, &dg_x, &dg_h, &carry, H, G, BH, ahead](auto lanes, const V<T>& dh, const At& at,
                                                               T* dg_step) LSTMFAST_INLINE_LAMBDA {
    const index_t u = at.u;
    const T* s = a.gates + at.row * 4 * H + u;
    const index_t next = ahead ? seq.next_backward(at.tn) : -1;
    if (next >= 0) {
      for (int part = 0; part < 4; ++part) prefetch(a.gates + seq.row(next, at.r) * 4 * H + part * H + u);
      prefetch(a.h_all + seq.slot_before(next) * BH + at.r * H + u);
    }
    const V<T> rg = lanes.load(s), zg = lanes.load(s + H), ng = lanes.load(s + 2 * H), hn = lanes.load(s + 3 * H);
    const V<T> hp = lanes.load(a.h_all + seq.slot_before(at.tn) * BH + at.r * H + u);
    const T* pre = Clip && a.preact ? a.preact + at.row * G + u : nullptr;
    const V<T> dnp = unclipped<T, Clip>(lanes, dh * (T(1) - zg) * (T(1) - ng * ng), a.clip, pre ? pre + 2 * H : pre);
    const V<T> drp = unclipped<T, Clip>(lanes, dnp * hn * rg * (T(1) - rg), a.clip, pre);
    const V<T> dzp = unclipped<T, Clip>(lanes, dh * (hp - ng) * zg * (T(1) - zg), a.clip, pre ? pre + H : pre);
    const V<T> dhn = dnp * rg;
    const V<T> dx3[3] = {drp, dzp, dnp}, dh3[3] = {drp, dzp, dhn};
    for (int gate = 0; gate < 3; ++gate) {
      lanes.store(dg_x.get() + at.row * G + gate * H + u, dx3[gate]);
      lanes.store(dg_h.get() + at.row * G + gate * H + u, dh3[gate]);
      lanes.store(dg_step + at.r * G + gate * H + u, dh3[gate]);
      if (a.db_ih) lanes.store(a.db_ih + gate * H + u, lanes.load(a.db_ih + gate * H + u) + dx3[gate]);
      if (a.db_hh) lanes.store(a.db_hh + gate * H + u, lanes.load(a.db_hh + gate * H + u) + dh3[gate]);
    }
    lanes.store(carry.get() + at.r * H + u, dh * zg);
  };
  backward_pass<T, 3>(a, seq, carry.get(), cell);
  weight_gradients(a, seq, G, dg_x.get(), dg_h.get());
}

template <class T>
void gru_backward_reset_before(const GruBackwardArgs<T>& a) {
  constexpr bool Clip = true;
  const index_t H = a.d.H, B = a.d.B, G = 3 * H, BH = B * H;
  const Sequence seq(a.d, a.steps);
  if (a.db_ih) fill_zero(a.db_ih, G);
  if (a.db_hh) fill_zero(a.db_hh, G);
  if (!begin_backward(a, seq, G)) return;
  const StepGradients<T> dg(seq, G);
  // dh carried to the previous step (dh z + da r), and dn', the operand of
  // the second product.
  Buffer<T> carry(BH), dn_all(BH);
  fill_zero(carry.get(), BH);
  T *carried = carry.get(), *dnp_all = dn_all.get();
  // The step's products: dG_rz<t+1> W_{hr,hz} (the next step's r, z
  // gradients: K = 2H, a dg_step row holds them) and dn' W_hn.
  const BackwardPanels<T> wp_rz(a.w_hh, 2 * H, H, B, BackwardPanels<T>::threads(B, G, H));
  const BackwardPanels<T> wp_n(a.w_hh + 2 * H * H, H, H, B, BackwardPanels<T>::threads(B, G, H));
  const index_t K = 2 * H;
  const bool ahead = tape_beyond_l2<T>(seq, 4 * H);
  auto add_db = [&a](auto lanes, index_t gate_u, const V<T>& d) LSTMFAST_INLINE_LAMBDA {
    // Summed in a fixed order (steps down, rows up) per column; both biases
    // enter the same sums.
    if (a.db_ih) lanes.store(a.db_ih + gate_u, lanes.load(a.db_ih + gate_u) + d);
    if (a.db_hh) lanes.store(a.db_hh + gate_u, lanes.load(a.db_hh + gate_u) + d);
  };
  with_nv(wp_rz.nv, [&](auto nv_c) {
    constexpr int NV = decltype(nv_c)::value;
    auto first = [&](index_t t, index_t jb, const T* dg_next, T* dg_step, T* partial) {
      auto unit = [&seq, &a, &dg, add_db, carried, dnp_all, t, dg_step, H, G, K, BH, ahead](
                      auto lanes, const V<T>& dhw, index_t r, index_t u) LSTMFAST_INLINE_LAMBDA {
        if (!seq.active(t, r)) {  // padding: no gradient
          lanes.store(dg_step + r * K + u, V<T>{});
          lanes.store(dg_step + r * K + H + u, V<T>{});
          lanes.store(dnp_all + r * H + u, V<T>{});
          return;
        }
        const index_t tn = seq.time(t, r), row = seq.row(tn, r);
        const index_t next = ahead ? seq.next_backward(tn) : -1;
        if (next >= 0) {  // r, z and n (the second product reads r)
          for (int gate = 0; gate < 3; ++gate) prefetch(a.gates + seq.row(next, r) * 4 * H + gate * H + u);
          prefetch(a.h_all + seq.slot_before(next) * BH + r * H + u);
        }
        const V<T> dh = gradient_reaching_h<T>(a, seq, carried, lanes, dhw, t, r, u, row);
        const T* s = a.gates + row * 4 * H + u;
        const V<T> zg = lanes.load(s + H), ng = lanes.load(s + 2 * H);
        const V<T> hp = lanes.load(a.h_all + seq.slot_before(tn) * BH + r * H + u);
        const T* pre = Clip && a.preact ? a.preact + row * G + u : nullptr;
        const V<T> dnp = unclipped<T, Clip>(lanes, dh * (T(1) - zg) * (T(1) - ng * ng), a.clip, pre ? pre + 2 * H : pre);
        const V<T> dzp = unclipped<T, Clip>(lanes, dh * (hp - ng) * zg * (T(1) - zg), a.clip, pre ? pre + H : pre);
        lanes.store(dnp_all + r * H + u, dnp);
        lanes.store(dg_step + r * K + H + u, dzp);
        lanes.store(dg.get() + row * G + H + u, dzp);
        lanes.store(dg.get() + row * G + 2 * H + u, dnp);
        add_db(lanes, H + u, dzp);
        add_db(lanes, 2 * H + u, dnp);
        lanes.store(carried + r * H + u, dh * zg);
      };
      recurrent_block<T, kGemmMR, NV>(B, dg_next ? K : 0, dg_next, K, wp_rz.panel(jb), partial,
                                      units_epilogue<T, NV>(jb, H, unit));
    };
    auto second = [&](index_t t, index_t jb, const T*, T* dg_step, T* partial) {
      auto unit = [&seq, &a, &dg, add_db, carried, t, dg_step, H, G, K, BH](auto lanes, const V<T>& da, index_t r,
                                                                            index_t u) LSTMFAST_INLINE_LAMBDA {
        if (!seq.active(t, r)) return;
        const index_t tn = seq.time(t, r), row = seq.row(tn, r);
        const V<T> rg = lanes.load(a.gates + row * 4 * H + u);
        const V<T> hp = lanes.load(a.h_all + seq.slot_before(tn) * BH + r * H + u);
        const T* pre = Clip && a.preact ? a.preact + row * G + u : nullptr;
        const V<T> drp = unclipped<T, Clip>(lanes, da * hp * rg * (T(1) - rg), a.clip, pre);
        lanes.store(dg_step + r * K + u, drp);
        lanes.store(dg.get() + row * G + u, drp);
        add_db(lanes, u, drp);
        lanes.store(carried + r * H + u, lanes.load(carried + r * H + u) + da * rg);
      };
      recurrent_block<T, kGemmMR, NV>(B, H, dnp_all, H, wp_n.panel(jb), partial, units_epilogue<T, NV>(jb, H, unit));
    };
    NoChunks no_chunks;
    backward_steps<T>(wp_rz.nt, seq.T, B, K, a.interrupt, no_chunks, static_cast<const StepGradients<T>*>(nullptr),
                      Phase{wp_rz.blocks, wp_rz.width, initial_state_step<T, NV>(a, seq, wp_rz, K, carried)},
                      Phase{wp_rz.blocks, wp_rz.width, first}, Phase{wp_n.blocks, wp_n.width, second});
  });
  weight_gradients_reset_first(a, seq, dg.get(), a.gates + 3 * H, 4 * H);
}

template <class T>
void gru_backward(const GruBackwardArgs<T>& a) {
  if (a.reset_before) return gru_backward_reset_before<T>(a);
  if constexpr (kOptionFreePath<T>)
    if (!(a.clip > T(0))) return gru_backward_reset_after<T, false>(a);
  gru_backward_reset_after<T, true>(a);
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
