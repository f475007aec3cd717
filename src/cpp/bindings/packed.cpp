// _core.pack_weights and PackedWeights (see packed.h).
#include "packed.h"

#include <cstring>
#include <new>
#include <type_traits>
#include <vector>

#include "bindings.h"
#include "cell.h"

namespace lstmfast {
namespace bind {
namespace {

struct CellKind {
  const char* name;
  const char* forward_name;
  int gates;
};
constexpr CellKind kCells[] = {{"lstm", "lstm_forward", 4}, {"gru", "gru_forward", 3}, {"rnn", "rnn_forward", 1}};

const CellKind& cell_kind(const py::object& cell) {
  if (PyUnicode_Check(cell.ptr())) {
    const std::string name = py::str(cell);
    for (const CellKind& k : kCells)
      if (name == k.name) return k;
  }
  throw py::value_error("cell: expected 'lstm', 'gru' or 'rnn', got " + described(cell));
}

void* allocate(index_t bytes) {
  const auto n = static_cast<std::size_t>((bytes + 63) / 64 * 64);
  void* p = std::aligned_alloc(64, n > 0 ? n : 64);
  if (!p) throw std::bad_alloc();
  return p;
}

// A private, read-only, C-contiguous copy of `a` (dtype T, shape `shape`).
template <class T>
py::array private_copy(const py::array& a, const char* name, std::vector<index_t> shape) {
  const T* src = in<T>(a, name, shape);
  auto copy = out<T>(shape);
  index_t n = 1;
  for (index_t d : shape) n *= d;
  copy_n(ptr(copy), src, n);
  py::array result = copy;
  freeze(result);
  return result;
}

template <class T>
Packed make_packed(const CellKind& kind, const py::array& w_ih, const py::array& w_hh, bool two_products,
                   bool precision_bfloat16) {
  const index_t G = dim(w_hh, 0), H = dim(w_hh, 1);
  if (w_ih.ndim() != 2)
    throw py::value_error("w_ih: expected a 2-D array (G, I), got " + std::to_string(w_ih.ndim()) + "-D");
  const index_t I = dim(w_ih, 1);
  if (H < 1 || I < 1) throw py::value_error("hidden and input sizes must be at least 1");
  if (G != kind.gates * H)
    throw py::value_error(std::string("w_hh: expected shape (") + (kind.gates > 1 ? std::to_string(kind.gates) + "*" : "") +
                          "H, H), got " + shape_str({G, H}));
  const Kernels& table = active_kernels();
  Packed p{};
  p.table = &table;
  p.precision_bfloat16 = precision_bfloat16;
  p.bfloat16 = precision_bfloat16 && table.bf16 != nullptr;
  p.forward_name = kind.forward_name;
  p.two_products = two_products;
  p.spec = PackSpec{I, H, kind.gates, two_products};
  p.w_ih = private_copy<T>(w_ih, "w_ih", {G, I});
  p.w_hh = private_copy<T>(w_hh, "w_hh", {G, H});
  const TypedKernels<T>* k = &typed<T>(table);
  if constexpr (std::is_same_v<T, float>) {
    if (p.bfloat16) k = table.bf16;
  }
  p.sizes = k->packed_sizes(p.spec);
  p.w_hh_packed.reset(allocate(p.sizes.w_hh_bytes));
  p.w_ih_packed.reset(allocate(p.sizes.w_ih_bytes));
  {
    py::gil_scoped_release nogil;  // the copies are private: nothing else writes them
    k->pack(p.spec, static_cast<const T*>(p.w_ih.data()), static_cast<const T*>(p.w_hh.data()), p.w_hh_packed.get(),
           p.w_ih_packed.get());
  }
  p.view = PackedWeights{p.w_hh_packed.get(), p.w_ih_packed.get()};
  return p;
}

Packed pack_weights(const py::object& cell, const py::array& w_ih, const py::array& w_hh, const py::object& reset_after,
                    const py::object& precision) {
  const CellKind& kind = cell_kind(cell);
  const bool after = flag_of(reset_after, "reset_after");
  if (!after && kind.gates != 3) throw py::value_error("reset_after: only the GRU has it; leave it True");
  const bool two_products = kind.gates == 3 && !after;
  const bool bf16 = bfloat16_of(precision);
  require_ndim(w_hh, "w_hh", 2, kind.gates == 1 ? "(H, H)" : kind.gates == 3 ? "(3*H, H)" : "(4*H, H)");
  if (!is_float32(w_hh) && !is_float64(w_hh))
    throw py::type_error("w_hh: expected dtype float32 or float64, got " + std::string(py::str(w_hh.dtype())));
  if (bf16 && !is_float32(w_hh))
    throw py::type_error("precision='bfloat16' needs float32 weights, got float64");
  if (bf16 && two_products)
    throw py::value_error("precision='bfloat16': the GRU with reset_after=False has no bfloat16 kernel");
  return is_float32(w_hh) ? make_packed<float>(kind, w_ih, w_hh, two_products, bf16)
                          : make_packed<double>(kind, w_ih, w_hh, two_products, bf16);
}

}  // namespace

const PackedWeights* packed_for_call(const py::object& packed, const char* forward_name, bool two_products,
                                     bool float32, const py::array& w_ih, const py::array& w_hh, bool training,
                                     bool bfloat16_kernel, const Kernels& active) {
  if (packed.is_none()) return nullptr;
  if (!py::isinstance<Packed>(packed))
    throw py::type_error("packed: expected None or a PackedWeights (from pack_weights), got " + described(packed));
  const Packed& p = packed.cast<const Packed&>();
  if (training)
    throw py::value_error("packed: packed weights are for inference (training=True packs the weights in the call)");
  if (std::strcmp(p.forward_name, forward_name) != 0)
    throw py::value_error(std::string("packed: packed for ") + p.forward_name + ", not " + forward_name);
  if (p.two_products != two_products)
    throw py::value_error(std::string("packed: packed for reset_after=") + (p.two_products ? "False" : "True") +
                          ", this call has reset_after=" + (two_products ? "False" : "True"));
  if (is_float32(p.w_hh) != float32)
    throw py::type_error("packed: packed as " + std::string(py::str(p.w_hh.dtype())) + ", this call's dtype is " +
                         (float32 ? "float32" : "float64"));
  if (w_ih.data() != p.w_ih.data() || w_hh.data() != p.w_hh.data() || dim(w_hh, 1) != p.spec.H ||
      dim(w_ih, 1) != p.spec.I)
    throw py::value_error(
        "w_ih, w_hh: with packed, pass the PackedWeights' own w_ih and w_hh (its panels were packed from them)");
  if (p.table != &active)
    throw py::value_error(std::string("packed: packed for the ") + p.table->isa + " kernels, and the " + active.isa +
                          " kernels are active now: pack again");
  if (p.bfloat16 != bfloat16_kernel)
    throw py::value_error(std::string("packed: packed with precision=") +
                          (p.precision_bfloat16 ? "'bfloat16'" : "None") + ", this call has precision=" +
                          (p.precision_bfloat16 ? "None" : "'bfloat16'"));
  return &p.view;
}

void register_packed(py::module_& m) {
  py::class_<Packed> cls(m, "PackedWeights",
                         "A cell's W_ih and W_hh packed once for inference (pack_weights): pass it as packed= with\n"
                         "its own w_ih and w_hh to <cell>_forward, which then packs nothing. A snapshot: private,\n"
                         "read-only copies of the weights; for the instruction set and precision it was made for.");
  cls.def_property_readonly("w_ih", [](py::object self) { return read_only_view(self.cast<Packed&>().w_ih, self); },
                            "(G, I): the private copy to pass as w_ih");
  cls.def_property_readonly("w_hh", [](py::object self) { return read_only_view(self.cast<Packed&>().w_hh, self); },
                            "(G, H): the private copy to pass as w_hh");
  cls.def_property_readonly("isa", [](const Packed& p) { return std::string(p.table->isa); },
                            "the instruction set whose kernels read it");
  cls.def_property_readonly(
      "precision", [](const Packed& p) { return p.precision_bfloat16 ? py::object(py::str("bfloat16")) : py::object(py::none()); });
  cls.def_property_readonly("nbytes", [](const Packed& p) {
    return p.sizes.w_hh_bytes + p.sizes.w_ih_bytes + static_cast<index_t>(p.w_ih.nbytes() + p.w_hh.nbytes());
  });
  cls.def("__repr__", [](const Packed& p) {
    return std::string("<PackedWeights ") + p.forward_name + " I=" + std::to_string(p.spec.I) +
           " H=" + std::to_string(p.spec.H) + " dtype=" + std::string(py::str(p.w_hh.dtype())) + " " + p.table->isa +
           (p.bfloat16 ? " bfloat16" : "") + ">";
  });
  cls.def("__reduce__", [](const Packed&) -> py::object {
    throw py::type_error(
        "PackedWeights cannot be pickled: its layout is this process's instruction set's; pickle the weights and "
        "pack them again (a prepared layer does this itself)");
  });
  // Made by pack_weights only (an empty one would point at no panels).
  reinterpret_cast<PyTypeObject*>(cls.ptr())->tp_new = nullptr;
  m.def("pack_weights", &pack_weights, py::arg("cell"), py::arg("w_ih"), py::arg("w_hh"), py::kw_only(),
        py::arg("reset_after") = true, py::arg("precision") = py::none(),
        "PackedWeights of a cell ('lstm', 'gru', 'rnn') for the active instruction set (and precision).");
}

}  // namespace bind
}  // namespace lstmfast
