// The set-up every recurrent kernel shares: the input projection computed a
// chunk of steps at a time, and W_hh packed and split across threads for the
// forward and the backward products.
#pragma once

#include <type_traits>

#include "gemm.h"
#include "recurrent.h"
#include "sequence.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

// A thread must get this much recurrent work per step to be worth a barrier.
constexpr double kStepFlopsPerThread = 2e5;
// The input is projected this many rows (steps x batch) at a time: the
// chunk (512 KiB at G = 512) is still in L2 when the time loop reads it, so
// inference's scratch stays O(B H) however long the sequence, and training,
// which projects straight into its tape, does not write a whole sequence's
// gates to memory and read them back. Training once took chunks of ~1e9
// FLOPs, the whole sequence at small I: measured on Zen 4, one thread, the
// LSTM's training forward at T=100, B=64, I=8, H=128 took 14.5 ms against
// 9.6 for inference; 11.3-11.8 ms with chunks of 128 KiB to 1 MiB.
constexpr index_t kProjectionRows = 256;

// x<t> W_ih^T + b, G columns, for the steps of one chunk (about
// kProjectionRows rows) at a time: into `into` when given (training: straight
// into the gates array), else into scratch; the whole sequence at once when a
// chunk of steps is not a range of natural times (reverse with lengths). W_ih
// is packed once and reused by every chunk. A row's numbers do not depend on
// the chunking.
template <class T>
class InputProjection {
 public:
  // packed: W_ih as pack() leaves it (prepared weights), or nullptr: packed here.
  InputProjection(const Sequence& seq, const T* x, index_t I, const T* w_ih, const T* bias, index_t G, int nt,
                  T* into, const T* packed = nullptr)
      : seq_(seq),
        I_(I),
        G_(G),
        chunk_(chunk_steps(seq)),
        scratch_(into ? 1 : chunk_ * seq.B * G),
        out_(into ? into : scratch_.get()),
        full_(into != nullptr),
        args_{chunk_ * seq.B, G, I, x, I, 1, w_ih, 1, I, nullptr, G, bias, false},
        plan_(args_, nt),
        pack_(plan_, nt, true),
        own_(packed ? 1 : packed_b_elems(args_, plan_)),
        w_packed_(packed ? packed : own_.get()) {
    if (!packed) pack_b_all(args_, plan_, own_.get());
  }

  // W_ih packed once: the layout depends on G, I and the instruction set only
  // (GemmPlan's panel width and K block), not on the rows or threads of a call.
  static GemmArgs<T> packing_args(const T* w_ih, index_t I, index_t G) {
    return GemmArgs<T>{1, G, I, nullptr, I, 1, w_ih, 1, I, nullptr, G, nullptr, false};
  }
  static index_t packed_elems(index_t I, index_t G) {
    const GemmArgs<T> g = packing_args(nullptr, I, G);
    return packed_b_elems(g, GemmPlan<T>(g, 1));
  }
  static void pack(const T* w_ih, index_t I, index_t G, T* out) {
    const GemmArgs<T> g = packing_args(w_ih, I, G);
    pack_b_all(g, GemmPlan<T>(g, 1), out);
  }

  index_t chunk() const { return chunk_; }

  // Steps per chunk of about kProjectionRows rows (steps x batch), at least
  // one; the whole sequence when a chunk of steps is not a range of natural times.
  static index_t chunk_steps(const Sequence& seq) {
    return !seq.chunkable() ? seq.T : min_i(seq.T, max_i(1, kProjectionRows / seq.B));
  }

  // This thread's share of the projection for steps [t0, t0 + steps); every
  // thread of the region calls it, then they meet at a barrier.
  void compute(index_t t0, index_t steps, int tid, int nt) {
    const index_t first = seq_.first_time(t0, steps);
    if (tid == 0) first_ = first;  // one writer; the others read it after the barrier
    GemmArgs<T> g = args_;
    g.M = steps * seq_.B;
    g.a = args_.a + first * seq_.B * I_;
    g.c = out_ + (full_ ? first * seq_.B * G_ : 0);
    gemm_part(g, plan_, tid, nt, pack_.a_for(tid), pack_.b_for(tid), w_packed_);
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
  Buffer<T> own_;
  const T* w_packed_;
};

// W_hh packed for the forward product h<t-1> W_hh^T, in blocks of hidden
// units, one thread per group of blocks. A cell with several gates gets
// blocks of W units whose panel rows hold the gates' vectors side by side, so
// one tile has every pre-activation of its units; the RNN gets blocks of nv
// vectors of units, nv as wide as the tile while every thread has a block.
template <class T, int Gates>
struct ForwardPanels {
  using Op = Fma<T>;
  int nt, nv;
  index_t width, blocks, H, k;  // a panel row holds `width` values; k = H rows
  Buffer<T> own;
  const T* panels;

  // Threads worth using for a step's product of B rows.
  static int threads(index_t H, index_t B) {
    return threads_for(2.0 * double(B) * double(Gates * H) * double(H), ceil_div(H, kWidth<T>), kStepFlopsPerThread);
  }

  // Prepared weights have one layout whatever the call: for one gate, the
  // widest blocks (nv as if for one thread).
  static int packed_nv(index_t H) { return Gates > 1 ? 1 : units_nv<T>(H, 1); }
  static index_t elems(index_t H, int nv) {
    return ceil_div(H, index_t(nv) * kWidth<T>) * H * index_t(Gates) * nv * kWidth<T>;
  }
  static index_t packed_elems(index_t H) { return elems(H, packed_nv(H)); }
  static void pack(const T* w_hh, index_t H, int nv, T* out) {
    pack_forward_panels<kWidth<T>>(w_hh, H, H, Gates > 1 ? Gates : nv, Gates > 1, out);
  }

  // `nt` threads share the blocks (several products of one step share them).
  // packed: W_hh as pack() leaves it with packed_nv(H) (prepared weights), or
  // nullptr: packed here.
  ForwardPanels(const T* w_hh, index_t H_, index_t B, int nt_ = 0, const T* packed = nullptr)
      : nt(nt_ > 0 ? nt_ : threads(H_, B)),
        nv(packed ? packed_nv(H_) : Gates > 1 ? 1 : units_nv<T>(H_, nt)),
        width(index_t(Gates) * nv * kWidth<T>),
        blocks(ceil_div(H_, index_t(nv) * kWidth<T>)),
        H(H_),
        k(H_),
        own(packed ? 1 : elems(H_, nv)),
        panels(packed ? packed : own.get()) {
    if (!packed) pack(w_hh, H_, nv, own.get());
  }

  const T* panel(index_t jb) const { return panels + jb * H * width; }
};

// One product of a time step, on `blocks` blocks of hidden units shared among
// the threads: step(t, jb, ...) for each of a thread's blocks, `cols` the
// width of its tiles (for the parked sums of K chunks). A step is one phase,
// or two when one product needs the whole result of the other.
template <class Step>
struct Phase {
  index_t blocks, cols;
  Step step;
};

template <class Step>
Phase(index_t, index_t, Step) -> Phase<Step>;

// The backward product dG<t+1> W_hh (K = G rows of W_hh) split into blocks of
// nv vectors of hidden units, one thread per group of blocks, packed once.
template <class T>
struct BackwardPanels {
  int nv, nt;
  index_t width, blocks, K;
  Buffer<T> panels;

  // Threads worth using for a step's product of B rows.
  static int threads(index_t B, index_t K, index_t H) {
    return threads_for(2.0 * double(B) * double(K) * double(H), ceil_div(H, kWidth<T>), kStepFlopsPerThread);
  }

  // At most `nt` threads share the blocks (several products of one step share
  // them; the same nt gives the same blocks).
  BackwardPanels(const T* w_hh, index_t K_, index_t H, index_t B, int nt_ = 0)
      : nv(units_nv<T>(H, nt_ > 0 ? nt_ : threads(B, K_, H))),
        nt(static_cast<int>(min_i(nt_ > 0 ? nt_ : threads(B, K_, H), ceil_div(H, index_t(nv) * kWidth<T>)))),
        width(index_t(nv) * kWidth<T>),
        blocks(ceil_div(H, width)),
        K(K_),
        panels(blocks * K_ * width) {
    pack_backward_panels(w_hh, K_, H, nv, panels.get());
  }

  const T* panel(index_t jb) const { return panels.get() + jb * K * width; }
};

// The panel sets of a cell's W_hh as forward_pass reads them, in their order in
// prepared weights (api.h PackedWeights): f(gates, first_row) for each, gates
// an integral_constant. The GRU that resets before its candidate's product
// has its first two gates' panels, then the candidate's (rows from 2H).
template <class F>
void for_each_panel_set(const PackSpec& s, F&& f) {
  using std::integral_constant;
  if (s.gates == 4) {
    f(integral_constant<int, 4>{}, index_t(0));
  } else if (s.gates == 3 && s.two_products) {
    f(integral_constant<int, 2>{}, index_t(0));
    f(integral_constant<int, 1>{}, 2 * s.H);
  } else if (s.gates == 3) {
    f(integral_constant<int, 3>{}, index_t(0));
  } else {
    f(integral_constant<int, 1>{}, index_t(0));
  }
}

// Prepared weights of one cell in this instruction set's layout: W_hh's
// panel sets (above), then W_ih packed for the input projection.
template <class T>
struct Packing {
  static PackedSizes sizes(const PackSpec& s) {
    index_t hh = 0;
    for_each_panel_set(s, [&](auto gates, index_t) {
      hh += ForwardPanels<T, decltype(gates)::value>::packed_elems(s.H);
    });
    const index_t ih = InputProjection<T>::packed_elems(s.I, index_t(s.gates) * s.H);
    return {hh * index_t(sizeof(T)), ih * index_t(sizeof(T))};
  }

  static void pack(const PackSpec& s, const T* w_ih, const T* w_hh, void* hh_out, void* ih_out) {
    T* out = static_cast<T*>(hh_out);
    for_each_panel_set(s, [&](auto gates, index_t row) {
      using Panels = ForwardPanels<T, decltype(gates)::value>;
      Panels::pack(w_hh + row * s.H, s.H, Panels::packed_nv(s.H), out);
      out += Panels::packed_elems(s.H);
    });
    InputProjection<T>::pack(w_ih, s.I, index_t(s.gates) * s.H, static_cast<T*>(ih_out));
  }
};

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
