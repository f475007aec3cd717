// The set-up every recurrent kernel shares: the input projection computed a
// chunk of steps at a time, the split of W_hh's columns for the backward
// product, and the gradients of a pass over no steps.
#pragma once

#include "gemm.h"
#include "recurrent.h"
#include "sequence.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// A thread must get this much recurrent work per step to be worth a barrier.
constexpr double kStepFlopsPerThread = 2e5;
// Inference projects the input this many rows (steps x batch) at a time, so
// its scratch stays O(B H) however long the sequence.
constexpr index_t kProjectionRows = 256;

// x<t> W_ih^T + b, G columns, for the steps of one chunk at a time: the whole
// sequence when `into` is given (training: straight into the gates array) or
// when a chunk of steps is not a range of natural times (reverse with
// lengths); else kProjectionRows rows at a time into scratch. W_ih is packed
// once and reused by every chunk.
template <class T>
class InputProjection {
 public:
  InputProjection(const Sequence& seq, const T* x, index_t I, const T* w_ih, const T* bias, index_t G, int nt,
                  T* into)
      : seq_(seq),
        I_(I),
        G_(G),
        chunk_(into || !seq.chunkable() ? seq.T : min_i(seq.T, max_i(1, kProjectionRows / seq.B))),
        scratch_(into ? 1 : chunk_ * seq.B * G),
        out_(into ? into : scratch_.get()),
        full_(into != nullptr),
        args_{chunk_ * seq.B, G, I, x, I, 1, w_ih, 1, I, nullptr, G, bias, false},
        plan_(args_, nt),
        pack_(plan_, nt, true),
        w_packed_(packed_b_elems(args_, plan_)) {
    pack_b_all(args_, plan_, w_packed_.get());
  }

  index_t chunk() const { return chunk_; }

  // This thread's share of the projection for steps [t0, t0 + steps); every
  // thread of the region calls it, then they meet at a barrier.
  void compute(index_t t0, index_t steps, int tid, int nt) {
    first_ = seq_.first_time(t0, steps);
    GemmArgs<T> g = args_;
    g.M = steps * seq_.B;
    g.a = args_.a + first_ * seq_.B * I_;
    g.c = out_ + (full_ ? first_ * seq_.B * G_ : 0);
    gemm_part(g, plan_, tid, nt, pack_.a_for(tid), pack_.b_for(tid), w_packed_.get());
  }

  // The projection of row `row` (= t * B + b) of the current chunk.
  const T* row(index_t row) const { return out_ + (row - (full_ ? 0 : first_ * seq_.B)) * G_; }

 private:
  const Sequence& seq_;
  index_t I_, G_, chunk_;
  Buffer<T> scratch_;
  T* out_;
  bool full_;
  index_t first_ = 0;
  GemmArgs<T> args_;
  GemmPlan<T> plan_;
  GemmScratch<T> pack_;
  Buffer<T> w_packed_;
};

// The backward product dG<t+1> W_hh (K = G rows of W_hh) split into blocks of
// nv vectors of hidden units, one thread per group of blocks, packed once.
template <class T>
struct BackwardPanels {
  int nv, nt;
  index_t width, blocks, K;
  Buffer<T> panels, partial;

  BackwardPanels(const T* w_hh, index_t K_, index_t H, index_t B)
      : nv(choose_nv(B, K_, H)),
        nt(static_cast<int>(min_i(threads(B, K_, H), ceil_div(H, index_t(nv) * kWidth<T>)))),
        width(index_t(nv) * kWidth<T>),
        blocks(ceil_div(H, width)),
        K(K_),
        panels(blocks * K_ * width),
        partial(index_t(nt) * B * width) {
    pack_backward_panels(w_hh, K_, H, nv, panels.get());
  }

  const T* panel(index_t jb) const { return panels.get() + jb * K * width; }
  T* partial_for(int tid, index_t B) const { return partial.get() + tid * B * width; }

 private:
  static int threads(index_t B, index_t K, index_t H) {
    return threads_for(2.0 * double(B) * double(K) * double(H), ceil_div(H, kWidth<T>), kStepFlopsPerThread);
  }
  static int choose_nv(index_t B, index_t K, index_t H) { return units_nv<T>(H, threads(B, K, H)); }
};

// The time loop of a forward pass, on threads that own blocks of hidden units:
// each chunk's input projection, a barrier, then per step step(t, jb, h_prev,
// h_next, partial) for each of the thread's blocks and a barrier. h alternates
// between two (B, H) buffers in batch order (the recurrent product's rows);
// the last one goes to h_n. `partial_cols`: a tile's width, for the parked
// sums of K chunks.
template <class T, class Step>
void forward_steps(const Sequence& seq, index_t H, InputProjection<T>& xp, int nt, index_t blocks,
                   index_t partial_cols, const T* h0, T* h_n, const Step& step) {
  const index_t B = seq.B, BH = B * H;
  Buffer<T> h_state(2 * BH);
  copy(h_state.get(), h0, BH);
  Buffer<T> partial(index_t(nt) * B * partial_cols);
  auto body = [&](int tid, int n, Barrier& barrier) {
    const index_t jb0 = share_begin(blocks, tid, n), jb1 = share_begin(blocks, tid + 1, n);
    T* my_partial = partial.get() + tid * B * partial_cols;
    for (index_t t0 = 0; t0 < seq.T; t0 += xp.chunk()) {
      const index_t steps = min_i(xp.chunk(), seq.T - t0);
      xp.compute(t0, steps, tid, n);
      barrier.wait();
      for (index_t t = t0; t < t0 + steps; ++t) {
        const T* h_prev = h_state.get() + (t % 2) * BH;
        T* h_next = h_state.get() + ((t + 1) % 2) * BH;
        for (index_t jb = jb0; jb < jb1; ++jb) step(t, jb, h_prev, h_next, my_partial);
        barrier.wait();
      }
    }
  };
  run_parallel(nt, body);
  copy(h_n, h_state.get() + (seq.T % 2) * BH, BH);
}

// The time loop of a backward pass, last step first, on the threads of wp:
// per step step(t, jb, dg_next, dg_step, partial) for each of the thread's
// blocks, then a barrier. dg_next is step t+1's dG in batch order (the
// recurrent product's rows; nullptr at the last step), dg_step where step t
// puts its own. Then initial(jb, dg_first, partial): the gradient reaching the
// initial state comes from the first step's dG.
template <class T, class Step, class Initial>
void backward_steps(const BackwardPanels<T>& wp, index_t T_, index_t B, const Step& step, const Initial& initial) {
  const index_t BG = B * wp.K;
  Buffer<T> dg_steps(2 * BG);
  auto body = [&](int tid, int n, Barrier& barrier) {
    const index_t jb0 = share_begin(wp.blocks, tid, n), jb1 = share_begin(wp.blocks, tid + 1, n);
    T* my_partial = wp.partial_for(tid, B);
    for (index_t t = T_ - 1; t >= 0; --t) {
      const T* dg_next = t == T_ - 1 ? nullptr : dg_steps.get() + ((t + 1) % 2) * BG;
      T* dg_step = dg_steps.get() + (t % 2) * BG;
      for (index_t jb = jb0; jb < jb1; ++jb) step(t, jb, dg_next, dg_step, my_partial);
      barrier.wait();
    }
    for (index_t jb = jb0; jb < jb1; ++jb) initial(jb, static_cast<const T*>(dg_steps.get()), my_partial);
  };
  run_parallel(wp.nt, body);
}

// Backward over no steps or no sequences: the initial state's gradient is the
// final state's, the rest is zero.
template <class T>
void empty_backward(index_t TBI, index_t G, index_t I, index_t H, index_t BH, const T* dh_n, T* dh0, T* dx,
                    bool accumulate_dx, T* dw_ih, T* dw_hh) {
  if (dh_n) copy(dh0, dh_n, BH);
  else fill_zero(dh0, BH);
  if (!accumulate_dx) fill_zero(dx, TBI);
  fill_zero(dw_ih, G * I);
  fill_zero(dw_hh, G * H);
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
