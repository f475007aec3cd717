// A cell's backward pass around its math, the same for every cell: the time
// loop last step first, on threads that own blocks of hidden units, where per
// step and block one tile product dG<t+1> W_hh gives the gradient reaching
// h<t>, and the cell's gradient equations run on the finished tile, one batch
// row and vector of units at a time:
//
//   cell(lanes, dh, at, dg_step)
//
// dh = dG<t+1> W_hh + dy<t> [+ carried] [+ dh_n at the sequence's last step]
// for the units of `at` (At, epilogue.h); the cell puts its dG<t> for
// them in dg_step (batch order, G columns: the next step's product reads it)
// and wherever else it keeps it. Rows past their end give dG = 0. After the
// loop, dh0 = dG<first step> W_hh [+ carried] (+ dh_n for a sequence of
// length 0, which took no step).
#pragma once

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "../interrupt.h"
#include "epilogue.h"
#include "plans.h"
#include "weight_gradients.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// dG of every step by natural time, for the weight products; zero at padded
// positions.
// With chunk_steps = C > 0 a ring of C steps' rows instead
// (ChunkedWeightGradients, weight_gradients.h): row r lives at r mod C*B.
//
// When a processing step's rows are one block (not reverse with lengths) and,
// in a ring, two steps fit (the time loop reads step t+1's dG while it writes
// step t's), the time loop keeps each step's dG right here (step_block)
// instead of in a buffer of its own: the cell then stores dG once, not twice
// (measured: the LSTM's BPTT at T=100, B=64, H=128 went 11.6 -> 9.9 ms).
template <class T>
class StepGradients {
 public:
  StepGradients(const Sequence& seq, index_t G, index_t chunk_steps = 0)
      : seq_(seq),
        G_(G),
        ring_rows_(chunk_steps > 0 ? chunk_steps * seq.B : 0),
        in_place_(seq.chunkable() && chunk_steps != 1),
        dg_((chunk_steps > 0 ? chunk_steps : seq.T) * seq.B * G) {
    if (seq.lengths) fill_zero(dg_.get(), seq.T * seq.B * G);
  }
  T* get() const { return dg_.get(); }
  T* row(index_t r) const { return dg_.get() + (ring_rows_ > 0 ? r % ring_rows_ : r) * G_; }
  // Whether the time loop keeps its steps' dG here (then step t's row b is
  // step_block(t) + b * G, which is row(natural row)).
  bool in_place() const { return in_place_; }
  T* step_block(index_t t) const { return row((seq_.reverse ? seq_.T - 1 - t : t) * seq_.B); }

 private:
  const Sequence& seq_;
  index_t G_, ring_rows_;
  bool in_place_;
  Buffer<T> dg_;
};

// The time loop of a backward pass, last step first, on nt threads: per step
// each phase in turn (Phase, plans.h), step(t, jb, dg_next, dg_step,
// partial) for each of a thread's blocks and a barrier. dg_next is step t+1's
// dG in batch order (K columns, the recurrent product's rows; nullptr at the
// last step), dg_step where step t puts its own: in `in_place`'s rows when
// given and StepGradients::in_place(), else in a buffer of two steps. Then,
// for each block of `initial`, initial.step(jb, dg_first, partial): the
// gradient reaching the initial state comes from the first step's dG. `interrupt` is polled in each
// step's last phase, before its barrier (interrupt.h); a stop skips the rest.
// On busy cores the loop may finish on thread 0 alone (Contention, parallel.h).
template <class T, class Chunks, class Initial, class... Steps>
void backward_steps(int nt, index_t T_, index_t B, index_t K, Interrupt* interrupt, Chunks& chunks,
                    const StepGradients<T>* in_place, const Phase<Initial>& initial, const Phase<Steps>&... phases) {
  const index_t BK = B * K;
  if (in_place && !in_place->in_place()) in_place = nullptr;
  Buffer<T> dg_steps(in_place ? 1 : 2 * BK);
  auto step_dg = [&](index_t t) { return in_place ? in_place->step_block(t) : dg_steps.get() + (t % 2) * BK; };
  const index_t cols = std::max({initial.cols, phases.cols...});
  Buffer<T> partial(index_t(nt) * B * cols);
  Contention contention;
  auto body = [&](int tid, int n, Barrier& barrier) {
    T* my_partial = partial.get() + tid * B * cols;
    index_t done = 0;  // phases done: Contention's step count
    // As in forward_steps: one phase on this thread's share of the blocks,
    // then the barrier (false: this thread leaves).
    auto run = [&](const auto& phase, index_t t, const T* dg_next, T* dg_step, bool last) {
      return contention.share(done, tid, n, barrier, [&](int id, int m) {
        const index_t jb1 = share_begin(phase.blocks, id + 1, m);
        for (index_t jb = share_begin(phase.blocks, id, m); jb < jb1; ++jb)
          phase.step(t, jb, dg_next, dg_step, my_partial);
        if (last && interrupt && id == 0) interrupt->poll(T_ - 1 - t);
      });
    };
    for (index_t t = T_ - 1; t >= 0; --t) {
      const T* dg_next = t == T_ - 1 ? nullptr : step_dg(t + 1);
      T* dg_step = step_dg(t);
      int phase = 0;
      if (!(run(phases, t, dg_next, dg_step, ++phase == int(sizeof...(Steps))) && ...)) return;
      if (interrupt && interrupt->ends_after(T_ - 1 - t)) return;  // T_ - 1 - t: steps done
      // the weight products of a finished chunk of steps
      if (chunks.due(t) && !contention.share(done, tid, n, barrier, [&](int id, int m) { chunks.compute(t, id, m); }))
        return;
    }
    const bool alone = contention.alone_at(done);
    if (alone && tid != 0) return;
    const index_t jb0 = alone ? 0 : share_begin(initial.blocks, tid, n);
    const index_t jb1 = alone ? initial.blocks : share_begin(initial.blocks, tid + 1, n);
    for (index_t jb = jb0; jb < jb1; ++jb) initial.step(jb, static_cast<const T*>(step_dg(0)), my_partial);
  };
  run_parallel(nt, body);
  if (contention.went_alone()) count_loop_alone();
}

// Backward over no steps or no sequences writes its gradients (the initial
// state's is the final state's, the rest zero) and returns false.
template <class T>
bool begin_backward(const BackwardArgs<T>& a, const Sequence& seq, index_t G) {
  if (seq.T > 0 && seq.B > 0) return true;
  const index_t H = a.d.H;
  if (a.dh_n) copy(a.dh0, a.dh_n, seq.B * H);
  else fill_zero(a.dh0, seq.B * H);
  if (a.dx && !a.accumulate_dx) fill_zero(a.dx, seq.T * seq.B * a.d.I);
  fill_zero(a.dw_ih, G * a.d.I);
  fill_zero(a.dw_hh, G * H);
  return false;
}

// Whether a backward pass's tape of G values per row is larger than L2
// (1 MiB on Zen 4 and Zen 5), so that it comes from L3 or memory: then the
// LSTM and GRU prefetch it a step ahead (prefetch, simd.h). The forecast
// epoch's batch (T=30, B=32, H=64: 0.98 MiB of gates) gained nothing from
// it on one thread and lost ~1%.
template <class T>
bool tape_beyond_l2(const Sequence& seq, index_t G) {
  return double(seq.T) * double(seq.B) * double(G) * double(sizeof(T)) > double(1 << 20);
}

// No weight products inside the time loop (the GRU's; see weight_gradients.h).
struct NoChunks {
  bool due(index_t) const { return false; }
  void compute(index_t, int, int) {}
};

template <class Carried>
constexpr bool kHasCarry = !std::is_same_v<Carried, std::nullptr_t>;

// The gradient reaching h<t> of row r (active at step t), units u..: dhw
// from the recurrent product, plus dy<t>, the carried gradient and, at the
// sequence's last step, dh_n.
template <class T, class Carried, class Lanes>
LSTMFAST_INLINE V<T> gradient_reaching_h(const BackwardArgs<T>& a, const Sequence& seq, Carried carried, Lanes lanes,
                                         const V<T>& dhw, index_t t, index_t r, index_t u, index_t row) {
  const index_t H = a.d.H;
  V<T> dh = dhw + lanes.load(a.dy + row * a.ldy + u);
  if constexpr (kHasCarry<Carried>) dh += lanes.load(carried + r * H + u);
  if (a.dh_n && t == seq.length(r) - 1) dh += lanes.load(a.dh_n + r * H + u);
  return dh;
}

// The epilogue of the product reaching the initial state: dh0 = d [+ carried]
// [+ dh_n for a sequence of length 0].
template <class T, int NV, class Carried>
auto initial_state_step(const BackwardArgs<T>& a, const Sequence& seq, const BackwardPanels<T>& wp, index_t K,
                        Carried carried) {
  return [&a, &seq, &wp, K, carried](index_t jb, const T* dg_first, T* partial) {
    const index_t H = a.d.H;
    auto store = [&](auto lanes, const V<T>& d, index_t r, index_t u) {
      V<T> dh0 = d;
      if constexpr (kHasCarry<Carried>) dh0 += lanes.load(carried + r * H + u);
      if (a.dh_n && seq.length(r) == 0) dh0 += lanes.load(a.dh_n + r * H + u);
      lanes.store(a.dh0 + r * H + u, dh0);
    };
    recurrent_block<T, kGemmMR, NV>(seq.B, K, dg_first, K, wp.panel(jb), partial, units_epilogue<T, NV>(jb, H, store));
  };
}

// The backward time loop of a cell with `Gates` gates (G = Gates * H).
// `carried`: a (B, H) gradient the cell carries to h<t-1> itself, or nullptr
// (then known at compile time: the cells without a carry pay no test for it).
// `in_place`: the cell's StepGradients, whose rows the loop uses for its dG
// steps when StepGradients::in_place(); the cell then stores each dG once,
// at dg_step.
template <class T, int Gates, class Carried, class Cell, class Chunks = NoChunks>
void backward_pass(const BackwardArgs<T>& a, const Sequence& seq, Carried carried, const Cell& cell,
                   Chunks&& chunks = NoChunks{}, const StepGradients<T>* in_place = nullptr) {
  const index_t B = seq.B, H = a.d.H, G = Gates * H;
  const BackwardPanels<T> wp(a.w_hh, G, H, B);
  with_nv(wp.nv, [&](auto nv_c) {
    constexpr int NV = decltype(nv_c)::value;
    auto step = [&](index_t t, index_t jb, const T* dg_next, T* dg_step, T* partial) {
      auto unit = [&seq, &a, cell, carried, t, dg_step, G, H](auto lanes, const V<T>& dhw, index_t r,
                                                              index_t u) LSTMFAST_INLINE_LAMBDA {
        if (!seq.active(t, r)) {  // padding: no gradient
          for (int gate = 0; gate < Gates; ++gate) lanes.store(dg_step + r * G + gate * H + u, V<T>{});
          return;
        }
        const index_t tn = seq.time(t, r), row = seq.row(tn, r);
        const V<T> dh = gradient_reaching_h<T>(a, seq, carried, lanes, dhw, t, r, u, row);
        cell(lanes, dh, At{r, u, tn, row}, dg_step);
      };
      recurrent_block<T, kGemmMR, NV>(B, dg_next ? G : 0, dg_next, G, wp.panel(jb), partial,
                                      units_epilogue<T, NV>(jb, H, unit));
    };
    backward_steps<T>(wp.nt, seq.T, B, G, a.interrupt, chunks, in_place, Phase{wp.blocks, wp.width, initial_state_step<T, NV>(a, seq, wp, G, carried)},
                      Phase{wp.blocks, wp.width, step});
  });
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
