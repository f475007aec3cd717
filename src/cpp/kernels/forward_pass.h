// A cell's forward pass around its math, the same for every cell: the initial
// state slots and padded outputs, W_hh's panels, the input projection (one
// GEMM per chunk of steps), and the time loop on threads that own blocks of
// hidden units (their slice of W_hh stays in their cache for all T steps; one
// barrier per step). Per step and block the product h<t-1> W_hh^T runs on a
// register tile, and the cell's math on the finished tile, one batch row and
// vector of units at a time:
//
//   h<t> = cell(lanes, zh, xz, hp, at)
//
// zh: the tile's h<t-1> W_hh^T for these units, one vector per gate (an
// array of them for a cell with several gates); xz: x<t> W_ih^T + b for them
// (gate k at xz + k*H); hp: h<t-1> for them; at: where (At, epilogue.h). Rows past their
// sequence's end keep their state; h<t> goes to the next state, y and
// (training) h_all.
#pragma once

#include "../interrupt.h"
#include "epilogue.h"
#include "plans.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// The time loop of a forward pass, on threads that own blocks of hidden units:
// each chunk's input projection, a barrier, then per step step(t, jb, h_prev,
// h_next, partial) for each of the thread's blocks and a barrier. h alternates
// between two (B, H) buffers in batch order (the recurrent product's rows);
// the last one goes to h_n. `partial_cols`: a tile's width, for the parked
// sums of K chunks.
template <class T, class Step>
void forward_steps(const Sequence& seq, index_t H, InputProjection<T>& xp, int nt, index_t blocks,
                   index_t partial_cols, const T* h0, T* h_n, Interrupt* interrupt, const Step& step) {
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
        if (interrupt && tid == 0) interrupt->poll(t);
        barrier.wait();
        if (interrupt && interrupt->ends_after(t)) return;
      }
    }
  };
  run_parallel(nt, body);
  copy(h_n, h_state.get() + (seq.T % 2) * BH, BH);
}

// Sets the initial slots of h_all and zeroes y at padding; false when there
// is no step to take (h_n is then h0).
template <class T>
bool begin_forward(const ForwardArgs<T>& a, const Sequence& seq) {
  if (a.h_all) set_initial_slots(seq, a.d.H, a.h0, a.h_all);
  zero_padding(seq, a.d.H, a.y, a.ldy);
  if (seq.T > 0 && seq.B > 0) return true;
  copy(a.h_n, a.h0, seq.B * a.d.H);
  return false;
}

// The forward pass of a cell with `Gates` gates (G = Gates * H rows of the
// weights), on tiles of MR rows. `project_into`: where the input projection
// of the whole sequence goes (training can keep it), or nullptr for scratch.
template <class T, int MR, int Gates, class Cell>
void forward_pass(const ForwardArgs<T>& a, const Sequence& seq, T* project_into, const Cell& cell) {
  constexpr int W = kWidth<T>;
  if (!begin_forward(a, seq)) return;
  const index_t B = seq.B, H = a.d.H, BH = B * H;
  const bool training = a.h_all != nullptr;
  const ForwardPanels<T, Gates> wp(a.w_hh, H, B);
  InputProjection<T> xp(seq, a.x, a.d.I, a.w_ih, a.bias, Gates * H, wp.nt, project_into);

  // Row r, units u.. at step t, whose recurrent pre-activations are zh. The
  // epilogues hold by value what they read per row (the scalars, the cell's
  // closure, this one): one pointer from the epilogue's own closure rather
  // than two or three, it stays in registers. With [&] the LSTM's epilogue
  // ran ~10% more instructions and the GRU's forward took ~4% longer.
  auto advance = [&seq, &xp, &a, cell, H, BH, training](index_t t, const T* h_prev, T* h_next, auto lanes,
                                                         const auto& zh, index_t r, index_t u) LSTMFAST_INLINE_LAMBDA {
    const T* hp = h_prev + r * H + u;
    if (!seq.active(t, r)) {  // past its end: the state stays
      lanes.store(h_next + r * H + u, lanes.load(hp));
      return;
    }
    const index_t tn = seq.time(t, r), row = seq.row(tn, r);
    const V<T> h = cell(lanes, zh, xp.row(row) + u, hp, At{r, u, tn, row});
    lanes.store(h_next + r * H + u, h);
    lanes.store(a.y + row * a.ldy + u, h);
    if (training) lanes.store(a.h_all + seq.slot_after(tn) * BH + r * H + u, h);
  };
  if constexpr (Gates > 1) {
    // A tile row holds the gates of W units, one vector each.
    auto step = [&](index_t t, index_t jb, const T* h_prev, T* h_next, T* partial) {
      const index_t j = jb * W;
      with_lanes<T>(static_cast<int>(min_i(W, H - j)), [&](auto lanes) {
        auto rows = [=](const auto& zh, index_t b0) {
          for (int m = 0; m < rows_of<decltype(zh)>; ++m) advance(t, h_prev, h_next, lanes, zh[m], b0 + m, j);
        };
        recurrent_block<T, MR, Gates>(B, H, h_prev, H, wp.panel(jb), partial, rows);
      });
    };
    forward_steps(seq, H, xp, wp.nt, wp.blocks, wp.width, a.h0, a.h_n, a.interrupt, step);
  } else {
    // A tile row holds NV vectors of consecutive units.
    with_nv(wp.nv, [&](auto nv_c) {
      constexpr int NV = decltype(nv_c)::value;
      auto step = [&](index_t t, index_t jb, const T* h_prev, T* h_next, T* partial) {
        auto unit = [=](auto lanes, const V<T>& zh, index_t r, index_t u) LSTMFAST_INLINE_LAMBDA {
          advance(t, h_prev, h_next, lanes, zh, r, u);
        };
        recurrent_block<T, MR, NV>(B, H, h_prev, H, wp.panel(jb), partial, units_epilogue<T, NV>(jb, H, unit));
      };
      forward_steps(seq, H, xp, wp.nt, wp.blocks, wp.width, a.h0, a.h_n, a.interrupt, step);
    });
  }
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
