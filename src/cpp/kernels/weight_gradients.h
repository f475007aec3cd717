// The products after a backward time loop, over all T*B rows at once.
#pragma once

#include "../interrupt.h"
#include "gemm.h"
#include "sequence.h"
#include "transpose.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// dx = dG W_ih (unless a.dx is null), dW_ih = dG^T x, dW_hh = dG_h^T h<t-1> into a's arrays:
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
  if (a.dx) gemm(GemmArgs<T>{TB, I, G, dg, G, 1, a.w_ih, I, 1, a.dx, I, nullptr, a.accumulate_dx});
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

// The same products a chunk of steps at a time inside the backward time loop
// (backward_steps), while the chunk's dG is still in cache: dG then needs a
// ring of C steps instead of all T, written and read once rather than going
// out to memory and back (for the LSTM at T=100, B=64, H=128: 13 MB). For the
// cells whose two weight gradients read one dG (LSTM, RNN), sequences of one
// length in forward order (else a chunk of processed steps is not a range of
// rows), and more than one chunk of rows; else C = 0 and weight_gradients
// runs after the loop. Chunk k holds steps [kC, kC + C) and is complete when
// step kC is done; its rows are ring rows [0, C*B).
constexpr index_t kWeightGradientRows = 256;

template <class T>
class ChunkedWeightGradients {
 public:
  static index_t steps_per_chunk(const Sequence& seq) {
    if (seq.reverse || seq.lengths || seq.T * seq.B <= 2 * kWeightGradientRows) return 0;
    return max_i(1, kWeightGradientRows / seq.B);
  }

  // dg: the ring (C*B rows of G); scratch for as many threads as a call may use.
  ChunkedWeightGradients(const BackwardArgs<T>& a, const Sequence& seq, index_t G, index_t C, const T* dg,
                         int nt = available_threads())
      : a_(a),
        seq_(seq),
        G_(G),
        C_(C),
        dg_(dg),
        dw_t_(C > 0 ? (a.d.I + a.d.H) * G : 1),
        dx_plan_(dx_args(C * seq.B, 0), nt),
        dw_plan_(dw_args(C * seq.B, 0), nt),
        dx_scratch_(dx_plan_, nt),
        dw_scratch_(dw_plan_, nt) {}

  bool due(index_t t) const { return C_ > 0 && t % C_ == 0; }

  // This thread's share of chunk [t, t + C)'s products; every thread of the
  // region calls it, then they meet at a barrier.
  void compute(index_t t, int tid, int nt) {
    const index_t rows = (min_i(t + C_, seq_.T) - t) * seq_.B;
    if (a_.dx) gemm_part(dx_args(rows, t), dx_plan_, tid, nt, dx_scratch_.a_for(tid), dx_scratch_.b_for(tid));
    gemm_part(dw_args(rows, t), dw_plan_, tid, nt, dw_scratch_.a_for(tid), dw_scratch_.b_for(tid));
  }

  // After the loop: dW_ih and dW_hh from the transposed sums.
  void finish() const {
    if (a_.interrupt && a_.interrupt->stopped()) return;  // the caller raises
    const index_t I = a_.d.I, H = a_.d.H;
    transpose(dw_t_.get(), I, G_, a_.dw_ih);
    transpose(dw_t_.get() + I * G_, H, G_, a_.dw_hh);
  }

 private:
  // dx rows [t*B, t*B + rows) = dG W_ih (dG from the ring).
  GemmArgs<T> dx_args(index_t rows, index_t t) const {
    const index_t I = a_.d.I;
    return {rows, I, G_, dg_, G_, 1, a_.w_ih, I, 1, a_.dx + t * seq_.B * I, I, nullptr, a_.accumulate_dx};
  }
  // [dW_ih | dW_hh]^T (+)= [x | h<t-1>]^T dG over those rows: the chunk
  // holding step T-1 comes first and writes, the others add.
  GemmArgs<T> dw_args(index_t rows, index_t t) const {
    const index_t I = a_.d.I, H = a_.d.H, B = seq_.B;
    const bool first = C_ == 0 || t + C_ >= seq_.T;
    GemmArgs<T> g{I + H, G_, rows, a_.x + t * B * I, 1, I, dg_, G_, 1, dw_t_.get(), G_, nullptr, !first};
    g.a2 = a_.h_all + seq_.previous_states_offset() * H + t * B * H, g.a_split = I, g.a_rs2 = 1, g.a_cs2 = H;
    return g;
  }

  const BackwardArgs<T>& a_;
  const Sequence& seq_;
  index_t G_, C_;
  const T* dg_;
  Buffer<T> dw_t_;
  GemmPlan<T> dx_plan_, dw_plan_;
  GemmScratch<T> dx_scratch_, dw_scratch_;
};

// The same for the GRU that resets h<t-1> before its candidate's product:
// one dG for both sides, but the last H rows of W_hh multiply that product's
// operand r ⊙ h<t-1> (row t*B + b at operand + (t*B + b) * ld), not h<t-1>.
template <class T>
void weight_gradients_reset_first(const BackwardArgs<T>& a, const Sequence& seq, const T* dg, const T* operand,
                                  index_t ld) {
  if (a.interrupt && a.interrupt->stopped()) return;  // the caller raises: no use for the products
  const index_t TB = seq.T * seq.B, I = a.d.I, H = a.d.H, G = 3 * H;
  const T* h_prev_all = a.h_all + seq.previous_states_offset() * H;
  if (a.dx) gemm(GemmArgs<T>{TB, I, G, dg, G, 1, a.w_ih, I, 1, a.dx, I, nullptr, a.accumulate_dx});
  Buffer<T> dw_t((I + H) * G);
  gemm(GemmArgs<T>{I, G, TB, a.x, 1, I, dg, G, 1, dw_t.get(), G, nullptr, false});
  gemm(GemmArgs<T>{H, 2 * H, TB, h_prev_all, 1, H, dg, G, 1, dw_t.get() + I * G, G, nullptr, false});
  gemm(GemmArgs<T>{H, H, TB, operand, 1, ld, dg + 2 * H, G, 1, dw_t.get() + I * G + 2 * H, G, nullptr, false});
  transpose(dw_t.get(), I, G, a.dw_ih);
  transpose(dw_t.get() + I * G, H, G, a.dw_hh);
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
