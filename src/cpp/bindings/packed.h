// PackedWeights: a cell's W_ih and W_hh packed once, for many inference calls
// (streaming: one step per call), instead of in every call. Made by
// _core.pack_weights from private copies of the weights; a forward call
// takes it as `packed=` together with those copies as its w_ih and w_hh (the
// only arrays it matches), and refuses it where its layout would not fit:
// another cell or dtype, training, another instruction set or precision.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <string>

#include "../dispatch.h"
#include "arrays.h"

namespace lstmfast {
namespace bind {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

struct Packed {
  const Kernels* table;  // whose kernels read this layout
  bool bfloat16;         // bfloat16 pairs for the table's bfloat16 kernels, else values of the dtype
  bool precision_bfloat16;  // asked for precision="bfloat16" (bfloat16 unless the CPU has no such kernels)
  const char* forward_name;  // "lstm_forward", ...
  bool two_products;         // the GRU with reset_after=False
  PackSpec spec;
  py::array w_ih, w_hh;  // private, read-only: the arrays a forward call must pass
  std::unique_ptr<void, FreeDeleter> w_hh_packed, w_ih_packed;
  PackedSizes sizes;
  PackedWeights view;
};

// The Packed behind `packed` for a <Cell>_forward call, checked against the
// call; nullptr for None.
const PackedWeights* packed_for_call(const py::object& packed, const char* forward_name, bool two_products,
                                     bool float32, const py::array& w_ih, const py::array& w_hh, bool training,
                                     bool bfloat16_kernel, const Kernels& active);

void register_packed(py::module_& m);

}  // namespace bind
}  // namespace lstmfast
