// Which natural time each sequence is at, step by step (see Steps in api.h):
// plain, variable lengths, reverse, or both. Scalar bookkeeping for the
// epilogues, which handle one batch row at a time.
#pragma once

#include "buffer.h"

namespace lstmfast {
namespace LSTMFAST_ISA {

struct Sequence {
  index_t T, B;
  const index_t* lengths;  // nullptr: every sequence has length T
  bool reverse;

  Sequence(const Dims& d, const Steps& s) : T(d.T), B(d.B), lengths(s.lengths), reverse(s.reverse) {}

  index_t length(index_t b) const { return lengths ? lengths[b] : T; }
  // Step t (in processing order) of sequence b is real, not padding.
  bool active(index_t t, index_t b) const { return t < length(b); }
  // The natural time step t of sequence b works on (when active).
  index_t time(index_t t, index_t b) const { return reverse ? length(b) - 1 - t : t; }
  // Row of (T, B, .) arrays for natural time tn.
  index_t row(index_t tn, index_t b) const { return tn * B + b; }
  // Slots of the (T+1, B, H) state arrays.
  index_t slot_after(index_t tn) const { return reverse ? tn : tn + 1; }
  index_t slot_before(index_t tn) const { return reverse ? tn + 1 : tn; }
  index_t initial_slot(index_t b) const { return reverse ? length(b) : 0; }
  // The natural time a backward pass (last step first) takes after tn, or
  // -1 past the arrays' ends; a padded time when tn is the sequence's first
  // (then a harmless prefetch).
  index_t next_backward(index_t tn) const {
    const index_t next = reverse ? tn + 1 : tn - 1;
    return next >= 0 && next < T ? next : -1;
  }
  // h<t-1> for all natural times, as one (T*B, H) matrix of a state array.
  index_t previous_states_offset() const { return reverse ? B : 0; }

  // Natural times [first, first + steps) covered by processing steps
  // [t0, t0 + steps) when all sequences have length T.
  index_t first_time(index_t t0, index_t steps) const { return reverse ? T - t0 - steps : t0; }
  // Whether the input projection can be computed a chunk of steps at a time
  // (each chunk is then a contiguous range of natural times for every row).
  bool chunkable() const { return !(reverse && lengths); }
};

// Writes `initial` (B, H) into each row's initial slot of a state array
// (T+1, B, H); with variable lengths every other slot is zeroed first (the
// weight-gradient products read padded slots, multiplied by zero gradients,
// so they must hold numbers, not whatever the allocation held).
template <class T>
void set_initial_slots(const Sequence& seq, index_t H, const T* initial, T* all) {
  const index_t B = seq.B;
  if (seq.lengths) fill_zero(all, (seq.T + 1) * B * H);
  for (index_t b = 0; b < B; ++b) copy(all + (seq.initial_slot(b) * B + b) * H, initial + b * H, H);
}

// Zeroes the outputs (H columns at y + row * ldy) at padded positions.
template <class T>
void zero_padding(const Sequence& seq, index_t H, T* y, index_t ldy) {
  if (!seq.lengths) return;
  for (index_t b = 0; b < seq.B; ++b)
    for (index_t tn = seq.length(b); tn < seq.T; ++tn) fill_zero(y + seq.row(tn, b) * ldy, H);
}

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
