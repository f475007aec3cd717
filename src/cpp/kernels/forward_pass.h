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

#include <algorithm>
#include <type_traits>

#include "../interrupt.h"
#include "epilogue.h"
#include "plans.h"
#include "row_products.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// The time loop of a forward pass, on threads that own blocks of hidden units:
// each chunk's input projection, a barrier, then per step each phase in turn
// (one for most cells; the GRU that resets h<t-1> before its candidate's
// product needs the reset gate of every unit first), each followed by a
// barrier. h alternates between two (B, H) buffers in batch order (the
// recurrent product's rows); the last one goes to h_n. `interrupt` is polled
// in each step's last phase, before its barrier (interrupt.h). On busy cores
// the loop may finish on thread 0 alone (Contention, parallel.h).
template <class T, class Projection, class... Steps>
void forward_steps(const Sequence& seq, index_t H, Projection& xp, int nt, const T* h0, T* h_n,
                   Interrupt* interrupt, const Phase<Steps>&... phases) {
  const index_t B = seq.B, BH = B * H;
  Buffer<T> h_state(2 * BH);
  copy(h_state.get(), h0, BH);
  const index_t partial_cols = std::max({phases.cols...});
  Buffer<T> partial(index_t(nt) * B * partial_cols);
  Contention contention;
  auto body = [&](int tid, int n, Barrier& barrier) {
    T* my_partial = partial.get() + tid * B * partial_cols;
    index_t done = 0;  // phases (and projections) done: Contention's step count
    // One phase of step t on this thread's share of the blocks, then the
    // barrier (false: this thread leaves, the loop runs alone on thread 0).
    auto run = [&](const auto& phase, index_t t, const T* h_prev, T* h_next, bool last) {
      return contention.share(done, tid, n, barrier, [&](int id, int m) {
        const index_t jb1 = share_begin(phase.blocks, id + 1, m);
        for (index_t jb = share_begin(phase.blocks, id, m); jb < jb1; ++jb) phase.step(t, jb, h_prev, h_next, my_partial);
        if (last && interrupt && id == 0) interrupt->poll(t);
      });
    };
    for (index_t t0 = 0; t0 < seq.T; t0 += xp.chunk()) {
      const index_t steps = min_i(xp.chunk(), seq.T - t0);
      if (!contention.share(done, tid, n, barrier, [&](int id, int m) { xp.compute(t0, steps, id, m); })) return;
      for (index_t t = t0; t < t0 + steps; ++t) {
        const T* h_prev = h_state.get() + (t % 2) * BH;
        T* h_next = h_state.get() + ((t + 1) % 2) * BH;
        int phase = 0;
        if (!(run(phases, t, h_prev, h_next, ++phase == int(sizeof...(Steps))) && ...)) return;
        if (interrupt && interrupt->ends_after(t)) return;
      }
    }
  };
  run_parallel(nt, body);
  if (contention.went_alone()) count_loop_alone();
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

// Row r, units u.. at step t, whose recurrent pre-activations are zh: the
// cell's h<t>, written to the next state, y and (training) h_all. The
// epilogues hold by value what they read per row (the scalars, the cell's
// closure, this one): one pointer from the epilogue's own closure rather than
// two or three, it stays in registers. With [&] the LSTM's epilogue ran ~10%
// more instructions and the GRU's forward took ~4% longer.
template <class T, class Projection, class Cell>
auto row_update(const ForwardArgs<T>& a, const Sequence& seq, const Projection& xp, const Cell& cell) {
  const index_t H = a.d.H, BH = seq.B * H;
  const bool training = a.h_all != nullptr;
  return [&seq, &xp, &a, cell, H, BH, training](index_t t, const T* h_prev, T* h_next, auto lanes, const auto& zh,
                                                 index_t r, index_t u) LSTMFAST_INLINE_LAMBDA {
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
}

// A step's product operand(t, h_prev) W^T over the gates of W units per tile
// row (panels of ForwardPanels<T, Gates>, or bfloat16 pairs of them: bf16.h),
// then rows(lanes, zh, r, u) for each batch row r: zh holds one vector per
// gate for the units u.. of block jb.
template <class T, int MR, int Gates, class Panels, class Operand, class Rows>
auto gate_tile_step(const Panels& wp, index_t B, const Operand& operand, const Rows& rows) {
  return [&wp, B, operand, rows](index_t t, index_t jb, const T* h_prev, T* h_next, T* partial) {
    constexpr int W = kWidth<T>;
    const index_t H = wp.H, j = jb * W;
    with_lanes<T>(static_cast<int>(min_i(W, H - j)), [&](auto lanes) {
      auto tile = [=](const auto& zh, int n, index_t b0) {
        for (int m = 0; m < n; ++m) rows(t, h_prev, h_next, lanes, zh[m], b0 + m, j);
      };
      recurrent_block<T, MR, Gates, typename Panels::Op>(B, wp.k, operand(t, h_prev), wp.k, wp.panel(jb), partial,
                                                         tile);
    });
  };
}

// A step's product operand(t, h_prev) W^T over NV vectors of consecutive
// units per tile row (panels of ForwardPanels<T, 1>, or bfloat16 pairs of
// them), then unit(t, h_prev, h_next, lanes, zh, r, u) per batch row and
// vector.
template <class T, int MR, int NV, class Panels, class Operand, class Unit>
auto unit_tile_step(const Panels& wp, index_t B, const Operand& operand, const Unit& unit) {
  return [&wp, B, operand, unit](index_t t, index_t jb, const T* h_prev, T* h_next, T* partial) {
    auto one = [=](auto lanes, const V<T>& zh, index_t r, index_t u) LSTMFAST_INLINE_LAMBDA {
      unit(t, h_prev, h_next, lanes, zh, r, u);
    };
    recurrent_block<T, MR, NV, typename Panels::Op>(B, wp.k, operand(t, h_prev), wp.k, wp.panel(jb), partial,
                                                    units_epilogue<T, NV>(jb, wp.H, one));
  };
}

// Inference of one step reads the weights as they are (row_products.h)
// instead of packing them, for batches up to max(16, H/4): streaming, one
// step per call, would otherwise pay for a whole repack of W_hh on every
// call. The packing grows with H faster than the row products' extra cost per
// batch row; the paths cost the same at B ~ 34 for H = 128 and B ~ 240 for
// H = 512 (LSTM, float32, Zen 5, one thread).
inline bool one_step_from_rows(const Sequence& seq, index_t H) {
  return seq.T == 1 && seq.B <= max_i(16, H / 4);
}

// The input projection of one step, computed whole before the cell's math.
template <class T>
struct StepProjection {
  const T* z;
  index_t ld;  // G, or 0: every row reads one row (of zeros)
  const T* row(index_t row) const { return z + row * ld; }
};

// One inference step (T = 1) from the weights' rows: for the first Summed
// gates (those whose math reads only x W_ih^T + b + h W_hh^T) that sum as one
// dot product per unit; for the others (the GRU's candidate, which scales its
// recurrent part by r) x W_ih^T + b and h0 W_hh^T apart. Then the cell's math
// per row and vector of units, as the time loop's epilogue does, with the
// input projection zero for the summed gates. Measured on Zen 5, one thread,
// LSTM, I = 16, B = 16, H = 128: 27 -> 23-25 us per call (B = 1 and H = 512
// unchanged: their products are not the fold-bound part).
template <class T, int Gates, int Summed, class Cell>
void forward_step_from_rows(const ForwardArgs<T>& a, const Sequence& seq, const Cell& cell) {
  static_assert(Summed > 0 && Summed <= Gates, "at least the first gate sums its products");
  constexpr int W = kWidth<T>;
  const index_t B = seq.B, H = a.d.H, I = a.d.I, G = Gates * H, GS = Summed * H;
  // xz: (B, G) with zeros in the summed gates' columns, or, when every gate
  // sums, one row of G zeros that every batch row reads.
  const index_t xz_rows = Summed == Gates ? 1 : B;
  Buffer<T> scratch(xz_rows * G + B * G + B * H);
  T* xz = scratch.get();
  T* zh = xz + xz_rows * G;
  T* h_next = zh + B * G;
  for (index_t r = 0; r < xz_rows; ++r) fill_zero(xz + r * G, GS);
  // The products split among threads by whole blocks of W rows of the
  // weights: each output is the same sum on any number of threads.
  const index_t blocks = ceil_div(G, index_t(W));
  auto products = [&](int tid, int n, Barrier&) {
    const index_t m0 = share_begin(blocks, tid, n) * W, m1 = min_i(G, share_begin(blocks, tid + 1, n) * W);
    const T* bias = a.bias;
    const index_t s1 = min_i(m1, GS);
    if (m0 < s1) {
      const RowOperand<T> both[2] = {{a.x, I, a.w_ih + m0 * I, I, I}, {a.h0, H, a.w_hh + m0 * H, H, H}};
      row_products(B, s1 - m0, both, bias ? bias + m0 : nullptr, zh + m0, G);
    }
    const index_t s0 = max_i(m0, GS);
    if (s0 < m1) {
      const RowOperand<T> input[1] = {{a.x, I, a.w_ih + s0 * I, I, I}};
      const RowOperand<T> recurrent[1] = {{a.h0, H, a.w_hh + s0 * H, H, H}};
      row_products(B, m1 - s0, input, bias ? bias + s0 : nullptr, xz + s0, G);
      row_products(B, m1 - s0, recurrent, static_cast<const T*>(nullptr), zh + s0, G);
    }
  };
  run_parallel(threads_for(2.0 * double(B) * double(G) * double(I + H), blocks, kStepFlopsPerThread), products);
  const StepProjection<T> xp{xz, Summed == Gates ? 0 : G};  // row_update holds it by reference
  const auto advance = row_update(a, seq, xp, cell);
  for (index_t r = 0; r < B; ++r)
    for (index_t u = 0; u < H; u += W)
      with_lanes<T>(static_cast<int>(min_i(W, H - u)), [&](auto lanes) {
        V<T> z[Gates];
        for (int gate = 0; gate < Gates; ++gate) z[gate] = lanes.load(zh + r * G + gate * H + u);
        if constexpr (Gates > 1) advance(index_t(0), a.h0, h_next, lanes, z, r, u);
        else advance(index_t(0), a.h0, h_next, lanes, z[0], r, u);
      });
  copy(a.h_n, h_next, B * H);
}

// The forward pass of a cell with `Gates` gates (G = Gates * H rows of the
// weights), on tiles of MR rows. `project_into`: where the input projection
// of the whole sequence goes (training can keep it), or nullptr for scratch.
template <class T, int MR, int Gates, int Summed, class Cell>
void forward_pass(const ForwardArgs<T>& a, const Sequence& seq, T* project_into, const Cell& cell) {
  if (!begin_forward(a, seq)) return;
  const index_t B = seq.B, H = a.d.H;
  // With packed weights one step runs on their panels, but for the smallest
  // (B * G < 512), where the time loop's set-up costs more than the rows'
  // products (LSTM, float32, Zen 5, one thread: B=1 H=32 2.2 us from the rows,
  // 2.9 on the panels; B=1 H=128 5.0 and 4.8; B=16 H=128 19.5 and 14.6; B=16
  // H=512 190 and 152; the RNN at B=1, H=128: 4.4 and 5.0).
  const T* packed_hh = a.packed ? static_cast<const T*>(a.packed->w_hh) : nullptr;
  const T* packed_ih = a.packed ? static_cast<const T*>(a.packed->w_ih) : nullptr;
  const bool from_rows = a.packed ? seq.T == 1 && seq.B * Gates * H < 512 : one_step_from_rows(seq, H);
  if (from_rows && a.h_all == nullptr && project_into == nullptr) {
    forward_step_from_rows<T, Gates, Summed>(a, seq, cell);
    return;
  }
  const ForwardPanels<T, Gates> wp(a.w_hh, H, B, 0, packed_hh);
  InputProjection<T> xp(seq, a.x, a.d.I, a.w_ih, a.bias, Gates * H, wp.nt, project_into, packed_ih);
  const auto advance = row_update(a, seq, xp, cell);
  if constexpr (Gates > 1) {
    // A tile row holds the gates of W units, one vector each.
    auto h_prev = [](index_t, const T* h) { return h; };
    forward_steps(seq, H, xp, wp.nt, a.h0, a.h_n, a.interrupt,
                  Phase{wp.blocks, wp.width, gate_tile_step<T, MR, Gates>(wp, B, h_prev, advance)});
  } else {
    // A tile row holds NV vectors of consecutive units.
    with_nv(wp.nv, [&](auto nv_c) {
      constexpr int NV = decltype(nv_c)::value;
      auto h_prev = [](index_t, const T* h) { return h; };
      forward_steps(seq, H, xp, wp.nt, a.h0, a.h_n, a.interrupt,
                    Phase{wp.blocks, wp.width, unit_tile_step<T, MR, NV>(wp, B, h_prev, advance)});
    });
  }
}

// Whether a cell has a second instantiation of its passes without the ONNX
// options (clip, peepholes, input_forget) and their tests per vector: in
// float32 only. float64, for teaching and gradient checks rather than speed,
// runs the options' path whatever the call, which computes the same values
// when no option is set: one instantiation fewer per cell, pass and
// instruction set (compile time).
template <class T>
constexpr bool kOptionFreePath = std::is_same_v<T, float>;

// The forward pass with every product in T: the cells' default (the LSTM's
// inference with bfloat16 products is bf16.h's Bf16Products).
struct SamePrecision {
  template <class T, int MR, int Gates, int Summed = Gates, class Cell>
  static void forward(const ForwardArgs<T>& a, const Sequence& seq, T* project_into, const Cell& cell) {
    forward_pass<T, MR, Gates, Summed>(a, seq, project_into, cell);
  }
};

// The forward pass of a cell whose last gate's recurrent product reads what
// its other gates make from h<t-1> (the GRU that resets h<t-1> before its
// candidate's product), so each step is two products with a barrier between:
//
//   first(t, lanes, zh, xz, hp, at): the first Gates - 1 gates of units u..
//       of an active row, from zh (one vector per gate) = h<t-1> W^T for
//       their rows of W_hh; it writes row r's share of `operand` (B, H)
//   cell(lanes, zh, xz, hp, at): as for forward_pass, with zh = operand
//       W_last^T for the last gate's rows of W_hh.
//
// Inactive rows of the operand are zeroed (their products are discarded).
template <class T, int MR, int Gates, class First, class Cell>
void forward_pass_two_products(const ForwardArgs<T>& a, const Sequence& seq, T* operand, const First& first,
                               const Cell& cell) {
  if (!begin_forward(a, seq)) return;
  const index_t B = seq.B, H = a.d.H;
  const int nt = ForwardPanels<T, Gates>::threads(H, B);
  // Packed weights (for_each_panel_set, plans.h): the first gates' panels, then the last's.
  const T* packed_hh = a.packed ? static_cast<const T*>(a.packed->w_hh) : nullptr;
  const T* packed_ih = a.packed ? static_cast<const T*>(a.packed->w_ih) : nullptr;
  const ForwardPanels<T, Gates - 1> wp_first(a.w_hh, H, B, nt, packed_hh);
  const T* packed_last = packed_hh ? packed_hh + ForwardPanels<T, Gates - 1>::packed_elems(H) : nullptr;
  const ForwardPanels<T, 1> wp_last(a.w_hh + (Gates - 1) * H * H, H, B, nt, packed_last);
  InputProjection<T> xp(seq, a.x, a.d.I, a.w_ih, a.bias, Gates * H, nt, nullptr, packed_ih);
  auto gates = [&seq, &xp, first, operand, H](index_t t, const T* h_prev, T*, auto lanes, const auto& zh, index_t r,
                                             index_t u) LSTMFAST_INLINE_LAMBDA {
    if (!seq.active(t, r)) {
      lanes.store(operand + r * H + u, V<T>{});
      return;
    }
    const index_t tn = seq.time(t, r), row = seq.row(tn, r);
    first(lanes, zh, xp.row(row) + u, h_prev + r * H + u, At{r, u, tn, row});
  };
  const auto advance = row_update(a, seq, xp, cell);
  auto h_prev = [](index_t, const T* h) { return h; };
  with_nv(wp_last.nv, [&](auto nv_c) {
    constexpr int NV = decltype(nv_c)::value;
    auto read_operand = [operand](index_t, const T*) -> const T* { return operand; };
    forward_steps(seq, H, xp, nt, a.h0, a.h_n, a.interrupt,
                  Phase{wp_first.blocks, wp_first.width, gate_tile_step<T, MR, Gates - 1>(wp_first, B, h_prev, gates)},
                  Phase{wp_last.blocks, wp_last.width, unit_tile_step<T, kGemmMR, NV>(wp_last, B, read_operand, advance)});
  });
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
