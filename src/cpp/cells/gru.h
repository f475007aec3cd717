// GRU forward and BPTT, for one instruction set, in PyTorch's formulation
// (api.h): the cell's math, run by kernels/forward_pass.h and
// kernels/backward_pass.h. The register tile holds h<t-1> W_hh^T for r, z
// and n of the same W units; the recurrent bias of n is added on the tile,
// because the reset gate multiplies it.
//
// Backward, per unit (dh from the next step's product, dy and the carry):
//   dn = dh (1 - z),  dz = dh (h<t-1> - n),  dn' = dn (1 - n²)
//   dr' = dn' hn r (1 - r),  dz' = dz z (1 - z),  carried dh<t-1> += dh z
// The input side sees (dr', dz', dn'); the recurrent side (dr', dz', dn' r),
// so the GRU keeps two dG arrays and two weight products.
#pragma once

#include "../kernels/activations.h"
#include "../kernels/backward_pass.h"
#include "../kernels/forward_pass.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

template <class T>
void gru_forward(const GruForwardArgs<T>& a) {
  const index_t H = a.d.H;
  const Sequence seq(a.d, a.steps);
  const bool training = a.h_all != nullptr;
  auto cell = [&a, H, training](auto lanes, const V<T> (&zh)[3], const T* xz, const T* hp,
                                 const At& at) LSTMFAST_INLINE_LAMBDA {
    const V<T> rg = sigmoid<T>(zh[0] + lanes.load(xz));
    const V<T> zg = sigmoid<T>(zh[1] + lanes.load(xz + H));
    const V<T> hn = zh[2] + (a.b_hn ? lanes.load(a.b_hn + at.u) : V<T>{});
    const V<T> ng = tanh<T>(lanes.load(xz + 2 * H) + rg * hn);
    if (training) {
      T* s = a.gates + at.row * 4 * H + at.u;
      lanes.store(s, rg);
      lanes.store(s + H, zg);
      lanes.store(s + 2 * H, ng);
      lanes.store(s + 3 * H, hn);
    }
    return ng + zg * (lanes.load(hp) - ng);  // (1 - z) n + z h<t-1>
  };
  forward_pass<T, kGruMR, 3>(a, seq, nullptr, cell);
}

template <class T>
void gru_backward(const GruBackwardArgs<T>& a) {
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
  auto cell = [&a, &seq, &dg_x, &dg_h, &carry, H, G, BH](auto lanes, const V<T>& dh, const At& at,
                                                        T* dg_step) LSTMFAST_INLINE_LAMBDA {
    const index_t u = at.u;
    const T* s = a.gates + at.row * 4 * H + u;
    const V<T> rg = lanes.load(s), zg = lanes.load(s + H), ng = lanes.load(s + 2 * H), hn = lanes.load(s + 3 * H);
    const V<T> hp = lanes.load(a.h_all + seq.slot_before(at.tn) * BH + at.r * H + u);
    const V<T> dnp = dh * (T(1) - zg) * (T(1) - ng * ng);
    const V<T> drp = dnp * hn * rg * (T(1) - rg);
    const V<T> dzp = dh * (hp - ng) * zg * (T(1) - zg);
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

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
