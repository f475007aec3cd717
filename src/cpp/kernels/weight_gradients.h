// The products after a backward time loop, over all T*B rows at once.
#pragma once

#include "../interrupt.h"
#include "gemm.h"
#include "sequence.h"
#include "transpose.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// dx = dG W_ih, dW_ih = dG^T x, dW_hh = dG_h^T h<t-1> into a's arrays:
// products over all T*B rows, shared by the LSTM (G = 4H), the RNN (G = H) and the GRU (G = 3H,
// whose n gate has a different gradient on the h side: dg_h). When dg_h is
// dG the two weight gradients are one product, [dW_ih | dW_hh]^T = [x | h]^T
// dG, so dG (the big operand) is packed once and its rows copied whole. (db
// is summed in the backward epilogues, while dG is in registers.)
template <class T>
void weight_gradients(const BackwardArgs<T>& a, const Sequence& seq, index_t G, const T* dg, const T* dg_h) {
  if (a.interrupt && a.interrupt->stopped()) return;  // the caller raises: no use for the products
  const index_t TB = seq.T * seq.B, I = a.d.I, H = a.d.H;
  const T* h_prev_all = a.h_all + seq.previous_states_offset() * H;
  gemm(GemmArgs<T>{TB, I, G, dg, G, 1, a.w_ih, I, 1, a.dx, I, nullptr, a.accumulate_dx});
  Buffer<T> dw_t((I + H) * G);
  if (dg_h == dg) {
    GemmArgs<T> g{I + H, G, TB, a.x, 1, I, dg, G, 1, dw_t.get(), G, nullptr, false};
    g.a2 = h_prev_all, g.a_split = I, g.a_rs2 = 1, g.a_cs2 = H;
    gemm(g);
  } else {
    gemm(GemmArgs<T>{I, G, TB, a.x, 1, I, dg, G, 1, dw_t.get(), G, nullptr, false});
    gemm(GemmArgs<T>{H, G, TB, h_prev_all, 1, H, dg_h, G, 1, dw_t.get() + I * G, G, nullptr, false});
  }
  transpose(dw_t.get(), I, G, a.dw_ih);
  transpose(dw_t.get() + I * G, H, G, a.dw_hh);
}

// The same for the GRU that resets h<t-1> before its candidate's product:
// one dG for both sides, but the last H rows of W_hh multiply that product's
// operand r ⊙ h<t-1> (row t*B + b at operand + (t*B + b) * ld), not h<t-1>.
template <class T>
void weight_gradients_reset_first(const BackwardArgs<T>& a, const Sequence& seq, const T* dg, const T* operand,
                                  index_t ld) {
  if (a.interrupt && a.interrupt->stopped()) return;  // the caller raises: no use for the products
  const index_t TB = seq.T * seq.B, I = a.d.I, H = a.d.H, G = 3 * H;
  const T* h_prev_all = a.h_all + seq.previous_states_offset() * H;
  gemm(GemmArgs<T>{TB, I, G, dg, G, 1, a.w_ih, I, 1, a.dx, I, nullptr, a.accumulate_dx});
  Buffer<T> dw_t((I + H) * G);
  gemm(GemmArgs<T>{I, G, TB, a.x, 1, I, dg, G, 1, dw_t.get(), G, nullptr, false});
  gemm(GemmArgs<T>{H, 2 * H, TB, h_prev_all, 1, H, dg, G, 1, dw_t.get() + I * G, G, nullptr, false});
  gemm(GemmArgs<T>{H, H, TB, operand, 1, ld, dg + 2 * H, G, 1, dw_t.get() + I * G + 2 * H, G, nullptr, false});
  transpose(dw_t.get(), I, G, a.dw_ih);
  transpose(dw_t.get() + I * G, H, G, a.dw_hh);
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
