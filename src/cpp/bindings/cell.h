// One template registers a kind of recurrent cell: its <name>_forward and
// <name>_backward functions and its tape class. Each function checks the
// buffers, allocates the outputs (and, training, the tape), releases the GIL
// and calls the active ISA's kernel. A cell kind is a traits struct
// (lstm.cpp, gru.cpp, rnn.cpp) that says:
//
//   forward_name, backward_name, tape_name, tape_doc, w_hh_shape
//   gates        G = gates * H rows of the weights
//   parts[]      the state parts (h; the LSTM's h, c): tape property, initial
//                state and final-state gradient argument names, doc
//   tape_gates   the tape keeps a (T, B, tape_gates * H) array `gates` (0: none)
//   gates_doc
//   projected_hh_gates(option)   gate blocks of b_hh added into the input projection
//   one_bias_gradient    the kernel writes one db for b_ih and b_hh alike
//   Positional, Keywords  the cell's own forward arguments (Arguments<...>:
//                the RNN's nonlinearity before `training`, the LSTM's
//                peepholes and input_forget, the GRU's reset_after after
//                `clip`), each a type naming the argument, its Python type,
//                its default (keywords) and its tape property
//   Option       their values, kept in the tape: Option::parse(positional...,
//                keywords...); tape_copy(): the same with private copies of
//                any array in it
//   ForwardArgs<T>, BackwardArgs<T>, forward<T>, backward<T>: the kernels
//   set(args, arrays, option): the fields of args only this cell has
//   add_gradients(args, option, grads): outputs of backward only this cell
//                has (the LSTM's peepholes), into args and the grads dict
//
// Every cell also takes ONNX's clip (None, or > 0: the gates' pre-activations
// are clipped to [-clip, clip]); the tape keeps the pre-activations then.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <iterator>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../dispatch.h"
#include "arrays.h"
#include "packed.h"
#include "signals.h"

namespace lstmfast {
namespace bind {

// One part of a cell's state.
struct StatePart {
  const char* name;        // the tape property: "h", "c"
  const char* initial;     // forward's initial-state argument and its gradient's key: "h0"
  const char* final_grad;  // backward's final-state gradient argument: "dh_n"
  const char* doc;         // the tape property's doc
};

// The own forward arguments of a cell (types describing each, see above).
template <class... Extra>
struct Arguments {};

// What every cell kind's traits start from: no arguments or outputs of its own.
struct CellDefaults {
  using Positional = Arguments<>;
  using Keywords = Arguments<>;
  // precision="bfloat16" with this cell's option (the GRU refuses
  // reset_after=False): throws if it has no bfloat16 kernel.
  template <class Option>
  static void check_bfloat16(const Option&) {}
  // Whether each step is two recurrent products (the GRU with reset_after=False).
  template <class Option>
  static bool two_products(const Option&) {
    return false;
  }
  template <class Args, class Option>
  static void add_gradients(Args&, const Option&, py::dict&) {}
};

// "int 1": a value's type and repr, for the messages.
inline std::string described(const py::handle& o) {
  return std::string(py::str(py::type::of(o).attr("__name__"))) + " " + std::string(py::repr(o));
}

// clip: None (0, no clipping) or a finite Python float or int > 0 (the
// Python layer converts other numbers).
inline double clip_of(const py::object& clip) {
  if (clip.is_none()) return 0.0;
  if (PyBool_Check(clip.ptr()) || !(PyFloat_Check(clip.ptr()) || PyLong_Check(clip.ptr())))
    throw py::type_error("clip: expected None or a number > 0, got " + described(clip));
  const double c = PyFloat_AsDouble(clip.ptr());
  if (c == -1.0 && PyErr_Occurred()) {  // an int beyond the float range (10**400)
    PyErr_Clear();
    throw py::value_error("clip: expected None or a finite number > 0, got an int beyond the float range");
  }
  if (!(c > 0.0 && c <= std::numeric_limits<double>::max()))
    throw py::value_error("clip: expected None or a finite number > 0, got " + std::string(py::str(clip)));
  return c;
}

// precision: None (the input's dtype throughout) or the str "bfloat16"
// (true): inference with bfloat16 products, float32 sums and state.
inline bool bfloat16_of(const py::object& precision) {
  if (precision.is_none()) return false;
  if (PyUnicode_Check(precision.ptr()) && std::string(py::str(precision)) == "bfloat16") return true;
  throw py::value_error("precision: expected None or 'bfloat16', got " + described(precision));
}

// A cell's own flag (the LSTM's input_forget, the GRU's reset_after): True or
// False only. pybind11's bool would also take None, 0 or 1 (or a float) and
// silently pick a formulation; the Python layer converts NumPy's bools.
inline bool flag_of(const py::object& value, const char* name) {
  if (!PyBool_Check(value.ptr())) throw py::type_error(std::string(name) + ": expected a bool, got " + described(value));
  return value.ptr() == Py_True;
}

// What training keeps for backward: private copies (the caller may change
// its arrays after forward) in one dtype. Read-only once filled.
template <class Cell>
struct Tape {
  static constexpr std::size_t S = std::size(Cell::parts);
  Dims d;
  typename Cell::Option option;
  bool has_b_ih, has_b_hh;
  py::array x, w_ih, w_hh;       // copies of the inputs
  std::array<py::array, S> all;  // (T+1, B, H) per state part: see Steps in api.h
  py::array gates;               // (T, B, tape_gates * H), when the cell keeps it
  py::object lengths;            // int64 (B,) copy, or None
  bool reverse;
  double clip;      // 0: none
  py::array preact;  // with clip: (T, B, G) the pre-activations before clipping
};

// Where one call's arrays are, for the fields only a cell's args have.
template <class T, std::size_t S>
struct ForwardArrays {
  std::array<const T*, S> initial;  // (B, H) each
  std::array<T*, S> final;          // (B, H) each
  std::array<T*, S> all;            // training: the tape's (T+1, B, H) arrays; else nullptr
  T* gates;                         // training: the tape's gates; else nullptr
  const T* b_hh;                    // (G,) or nullptr
};

template <class T, std::size_t S>
struct BackwardArrays {
  std::array<const T*, S> all, final_grad;  // final_grad: (B, H) or nullptr
  std::array<T*, S> initial_grad;
  const T* gates;
  T* db_ih;  // one_bias_gradient: the one db
  T* db_hh;
};

template <class T>
const T* data_of(const py::array& a) {
  return static_cast<const T*>(a.data());
}

template <class T>
T* mutable_data_of(py::array& a) {
  return static_cast<T*>(a.mutable_data());
}

// The forward kernel of this call: the ISA's, or with precision="bfloat16"
// its bfloat16 kernel, where the CPU has one (else the float32 kernel: the
// same results up to the operands' rounding; lstmfast.config.kernel_config()
// says which runs). Refuses what has none.
template <class Cell, class T>
void (*forward_kernel(const Kernels& k, const typename Cell::Option& option, bool training,
                      bool bfloat16))(const typename Cell::template ForwardArgs<T>&) {
  constexpr auto entry = Cell::template forward<T>;
  if (!bfloat16) return typed<T>(k).*entry;
  if (training)
    throw py::value_error("precision='bfloat16' is for inference: training=True keeps a tape in the input's dtype");
  if constexpr (!std::is_same_v<T, float>) {
    throw py::type_error("precision='bfloat16' needs float32 x and weights, got float64");
  } else {
    Cell::check_bfloat16(option);
    return k.bf16 ? k.bf16->*entry : k.f32.*entry;
  }
}

template <class Cell, class T>
py::tuple forward(const py::array& x, const py::array& w_ih, const py::array& w_hh, const py::object& b_ih,
                  const py::object& b_hh, const std::array<py::object, Tape<Cell>::S>& initial,
                  const typename Cell::Option& option, bool training, const py::object& lengths, bool reverse,
                  double clip, bool bfloat16, const py::object& packed) {
  constexpr std::size_t S = Tape<Cell>::S;
  const index_t T_ = dim(x, 0), B = dim(x, 1), I = dim(x, 2), H = dim(w_hh, 1), G = Cell::gates * H, BH = B * H;
  if (H < 1 || I < 1) throw py::value_error("hidden and input sizes must be at least 1");
  const Kernels& table = active_kernels();
  const auto kernel = forward_kernel<Cell, T>(table, option, training, bfloat16);
  const T* px = in<T>(x, "x", {T_, B, I});
  const T* pw_ih = in<T>(w_ih, "w_ih", {G, I});
  const T* pw_hh = in<T>(w_hh, "w_hh", {G, H});
  const PackedWeights* packed_weights =
      packed_for_call(packed, Cell::forward_name, Cell::two_products(option), std::is_same_v<T, float>, w_ih, w_hh,
                      training, bfloat16 && table.bf16 != nullptr, table);
  const T* pb_ih = in_opt<T>(b_ih, "b_ih", {G});
  const T* pb_hh = in_opt<T>(b_hh, "b_hh", {G});
  ForwardArrays<T, S> arrays{};
  for (std::size_t s = 0; s < S; ++s) arrays.initial[s] = in_opt<T>(initial[s], Cell::parts[s].initial, {B, H});
  const Lengths len(lengths, T_, B);

  auto y = out<T>({T_, B, H});
  std::vector<py::array_t<T>> final;
  for (std::size_t s = 0; s < S; ++s) final.push_back(out<T>({B, H}));
  const std::vector<T> bias = summed_bias(pb_ih, pb_hh, G, Cell::projected_hh_gates(option) * H);
  std::vector<T> zeros;  // the initial state parts not given
  if (std::count(arrays.initial.begin(), arrays.initial.end(), nullptr) > 0)
    zeros.assign(static_cast<std::size_t>(BH), T(0));
  for (std::size_t s = 0; s < S; ++s) {
    if (!arrays.initial[s]) arrays.initial[s] = zeros.data();
    arrays.final[s] = ptr(final[s]);
  }
  arrays.b_hh = pb_hh;

  typename Cell::template ForwardArgs<T> a{};
  a.d = Dims{T_, B, I, H};
  a.steps = Steps{len.data(), reverse};
  a.bias = bias.empty() ? nullptr : bias.data();
  a.h0 = arrays.initial[0];
  a.y = ptr(y);
  a.ldy = H;
  a.h_n = arrays.final[0];
  a.clip = static_cast<T>(clip);
  a.packed = packed_weights;
  Signals signals;
  a.interrupt = signals.interrupt();
  py::tuple result(S + 2);
  result[0] = y;
  for (std::size_t s = 0; s < S; ++s) result[s + 1] = final[s];

  if (!training) {
    a.x = px, a.w_ih = pw_ih, a.w_hh = pw_hh;
    Cell::set(a, arrays, option);
    {
      py::gil_scoped_release nogil;
      kernel(a);
    }
    signals.raise_if_interrupted();
    result[S + 1] = py::none();
    return result;
  }

  Cell::set(a, arrays, option);  // checks the cell's own arrays before the tape copies them
  TapeInputs<T> inputs(a.d, G);
  Tape<Cell> tape{a.d,         option.tape_copy(), pb_ih != nullptr, pb_hh != nullptr, inputs.x, inputs.w_ih,
                  inputs.w_hh, {},                 {},               len.copy(),       reverse,  clip,
                  {}};
  for (std::size_t s = 0; s < S; ++s) {
    tape.all[s] = out<T>({T_ + 1, B, H});
    arrays.all[s] = mutable_data_of<T>(tape.all[s]);
  }
  if (Cell::tape_gates > 0) {
    tape.gates = out<T>({T_, B, Cell::tape_gates * H});
    arrays.gates = mutable_data_of<T>(tape.gates);
  }
  if (clip > 0) {
    tape.preact = out<T>({T_, B, G});
    a.preact = mutable_data_of<T>(tape.preact);
  }
  a.x = inputs.x_data, a.w_ih = inputs.w_ih_data, a.w_hh = inputs.w_hh_data;
  a.h_all = arrays.all[0];
  Cell::set(a, arrays, tape.option);
  {
    py::gil_scoped_release nogil;
    inputs.fill(px, pw_ih, pw_hh);
    zero_padded_rows(inputs.x_data, T_, B, I, len.data());
    kernel(a);
    if (Cell::tape_gates > 0) zero_padded_rows(arrays.gates, T_, B, Cell::tape_gates * H, len.data());
    if (clip > 0) zero_padded_rows(a.preact, T_, B, G, len.data());
  }
  signals.raise_if_interrupted();
  for (py::array* arr : {&tape.x, &tape.w_ih, &tape.w_hh}) freeze(*arr);
  for (py::array& arr : tape.all) freeze(arr);
  if (Cell::tape_gates > 0) freeze(tape.gates);
  if (clip > 0) freeze(tape.preact);
  result[S + 1] = py::cast(std::move(tape));
  return result;
}

// input_gradient false: no dx (None), and none of its product (a model's first
// layer, whose input is data).
template <class Cell, class T>
py::dict backward(const Tape<Cell>& tape, const py::array& dy,
                  const std::array<py::object, Tape<Cell>::S>& final_grad, bool input_gradient) {
  constexpr std::size_t S = Tape<Cell>::S;
  const Dims d = tape.d;
  const index_t T_ = d.T, B = d.B, I = d.I, H = d.H, G = Cell::gates * H;
  typename Cell::template BackwardArgs<T> a{};
  a.d = d;
  const Lengths len(tape.lengths, T_, B);
  a.steps = Steps{len.data(), tape.reverse};
  a.dy = in<T>(dy, "dy", {T_, B, H});
  a.ldy = H;
  BackwardArrays<T, S> arrays{};
  for (std::size_t s = 0; s < S; ++s)
    arrays.final_grad[s] = in_opt<T>(final_grad[s], Cell::parts[s].final_grad, {B, H});
  a.x = data_of<T>(tape.x);
  a.w_ih = data_of<T>(tape.w_ih);
  a.w_hh = data_of<T>(tape.w_hh);
  for (std::size_t s = 0; s < S; ++s) arrays.all[s] = data_of<T>(tape.all[s]);
  if (Cell::tape_gates > 0) arrays.gates = data_of<T>(tape.gates);
  auto dx = out<T>({input_gradient ? T_ : 0, B, I}, 0), dw_ih = out<T>({G, I}, 0), dw_hh = out<T>({G, H}, 0);
  std::vector<py::array_t<T>> initial_grad;
  for (std::size_t s = 0; s < S; ++s) {
    initial_grad.push_back(out<T>({B, H}, 0));
    arrays.initial_grad[s] = ptr(initial_grad[s]);
  }
  // Both biases receive the same gradient: one array for the kernel, then
  // each key gets its own.
  const bool one_db = Cell::one_bias_gradient, any_bias = tape.has_b_ih || tape.has_b_hh;
  auto db_ih = out<T>({(one_db ? any_bias : tape.has_b_ih) ? G : 0}, 0);
  auto db_hh = out<T>({!one_db && tape.has_b_hh ? G : 0}, 0);
  arrays.db_ih = (one_db ? any_bias : tape.has_b_ih) ? ptr(db_ih) : nullptr;
  arrays.db_hh = !one_db && tape.has_b_hh ? ptr(db_hh) : nullptr;
  a.h_all = arrays.all[0];
  a.dh_n = arrays.final_grad[0];
  a.dx = input_gradient ? ptr(dx) : nullptr;
  a.dh0 = arrays.initial_grad[0], a.dw_ih = ptr(dw_ih), a.dw_hh = ptr(dw_hh);
  a.clip = static_cast<T>(tape.clip);
  if (tape.clip > 0) a.preact = data_of<T>(tape.preact);
  Cell::set(a, arrays, tape.option);
  py::dict own;  // the gradients only this cell kind has
  Cell::add_gradients(a, tape.option, own);
  Signals signals;
  a.interrupt = signals.interrupt();
  {
    py::gil_scoped_release nogil;
    (typed<T>(active_kernels()).*Cell::template backward<T>)(a);
  }
  signals.raise_if_interrupted();
  py::dict g;
  g["x"] = input_gradient ? py::object(dx) : py::none();
  for (std::size_t s = 0; s < S; ++s) g[Cell::parts[s].initial] = initial_grad[s];
  g["w_ih"] = dw_ih, g["w_hh"] = dw_hh;
  g["b_ih"] = tape.has_b_ih ? py::object(db_ih) : py::none();
  if (!tape.has_b_hh) g["b_hh"] = py::none();
  else if (!one_db) g["b_hh"] = db_hh;
  else g["b_hh"] = tape.has_b_ih ? py::object(db_ih.attr("copy")()) : py::object(db_ih);
  for (auto item : own) g[item.first] = item.second;
  return g;
}

// A parameter type repeated once per state part.
template <std::size_t>
struct Object {
  using type = py::object;
};

// The Python signatures, as functors (a lambda's parameter list cannot
// expand the packs): <name>_forward(x, w_ih, w_hh, b_ih, b_hh, <initial state
// per part>, [positional options], training, lengths=None, reverse=False,
// clip=None, [keyword options]) and <name>_backward(tape, dy, <final-state
// gradient per part>).
template <class Cell, class Parts, class Positional, class Keywords>
struct ForwardEntry;

template <class Cell, std::size_t... S, class... Pos, class... Kw>
struct ForwardEntry<Cell, std::index_sequence<S...>, Arguments<Pos...>, Arguments<Kw...>> {
  py::tuple operator()(const py::array& x, const py::array& w_ih, const py::array& w_hh, const py::object& b_ih,
                       const py::object& b_hh, const typename Object<S>::type&... initial,
                       const typename Pos::Python&... positional, bool training, const py::object& lengths,
                       bool reverse, const py::object& clip, const py::object& precision,
                       const typename Kw::Python&... keywords, const py::object& packed) const {
    require_float(x);
    require_ndim(x, "x", 3, "(T, B, I)");
    require_ndim(w_hh, "w_hh", 2, Cell::w_hh_shape);
    const typename Cell::Option opt = Cell::Option::parse(positional..., keywords...);
    const double c = clip_of(clip);
    const bool bf16 = bfloat16_of(precision);
    const std::array<py::object, sizeof...(S)> init{initial...};
    return is_float32(x) ? forward<Cell, float>(x, w_ih, w_hh, b_ih, b_hh, init, opt, training, lengths, reverse, c,
                                                bf16, packed)
                         : forward<Cell, double>(x, w_ih, w_hh, b_ih, b_hh, init, opt, training, lengths, reverse, c,
                                                 bf16, packed);
  }

  static void def(py::module_& m) {
    m.def(Cell::forward_name, ForwardEntry{}, py::arg("x"), py::arg("w_ih"), py::arg("w_hh"), py::arg("b_ih"),
          py::arg("b_hh"), py::arg(Cell::parts[S].initial)..., py::arg(Pos::name)..., py::arg("training"),
          py::arg("lengths") = py::none(), py::arg("reverse") = false, py::arg("clip") = py::none(),
          py::arg("precision") = py::none(), (py::arg(Kw::name) = Kw::default_value())...,
          py::arg("packed") = py::none());
  }
};

template <class Cell, class Parts>
struct BackwardEntry;

template <class Cell, std::size_t... S>
struct BackwardEntry<Cell, std::index_sequence<S...>> {
  py::dict operator()(const Tape<Cell>& tape, const py::array& dy, const typename Object<S>::type&... final_grad,
                      bool input_gradient) const {
    const std::array<py::object, sizeof...(S)> grads{final_grad...};
    return is_float32(tape.x) ? backward<Cell, float>(tape, dy, grads, input_gradient)
                              : backward<Cell, double>(tape, dy, grads, input_gradient);
  }

  static void def(py::module_& m) {
    m.def(Cell::backward_name, BackwardEntry{}, py::arg("tape"), py::arg("dy"), py::arg(Cell::parts[S].final_grad)...,
          py::arg("input_gradient") = true);
  }
};

// A tape property per own argument of the cell, its value as forward got it.
template <class TapeT, class... Extra>
void define_properties(py::class_<TapeT>& tape, Arguments<Extra...>) {
  (tape.def_property_readonly(Extra::name, [](const TapeT& t) { return Extra::get(t.option); }), ...);
}

template <class Cell>
void register_cell(py::module_& m) {
  using TapeT = Tape<Cell>;
  py::class_<TapeT> tape(m, Cell::tape_name, Cell::tape_doc);
  tape.def_property_readonly("shape", [](const TapeT& t) { return py::make_tuple(t.d.T, t.d.B, t.d.I, t.d.H); },
                             "(T, B, I, H)");
  tape.def_property_readonly("dtype", [](const TapeT& t) { return t.x.dtype(); });
  define_properties(tape, typename Cell::Positional{});
  define_properties(tape, typename Cell::Keywords{});
  tape.def_property_readonly(
      "clip", [](const TapeT& t) { return t.clip > 0 ? py::object(py::float_(t.clip)) : py::object(py::none()); },
      "ONNX's clip of the pre-activations, or None");
  for (std::size_t s = 0; s < TapeT::S; ++s)
    tape.def_property_readonly(
        Cell::parts[s].name, [s](py::object self) { return read_only_view(self.cast<TapeT&>().all[s], self); },
        Cell::parts[s].doc);
  if constexpr (Cell::tape_gates > 0)
    tape.def_property_readonly(
        "gates", [](py::object self) { return read_only_view(self.cast<TapeT&>().gates, self); }, Cell::gates_doc);
  tape.def_property_readonly("lengths", [](const TapeT& t) { return t.lengths; });
  tape.def_property_readonly("reverse", [](const TapeT& t) { return t.reverse; });
  tape.def_property_readonly("nbytes", [](const TapeT& t) {
    py::ssize_t n = t.x.nbytes() + t.w_ih.nbytes() + t.w_hh.nbytes();
    for (const py::array& a : t.all) n += a.nbytes();
    if (t.clip > 0) n += t.preact.nbytes();
    return Cell::tape_gates > 0 ? n + t.gates.nbytes() : n;
  });
  tape.def("__repr__", [](const TapeT& t) {
    return "<" + std::string(Cell::tape_name) + " T=" + std::to_string(t.d.T) + " B=" + std::to_string(t.d.B) +
           " I=" + std::to_string(t.d.I) + " H=" + std::to_string(t.d.H) +
           " dtype=" + std::string(py::str(t.x.dtype())) + ">";
  });
  // Tapes come only from forward: no __new__ (an instance made by it would
  // hold no tape, and backward would read whatever its memory held).
  // pybind11 makes forward's tapes without tp_new.
  reinterpret_cast<PyTypeObject*>(tape.ptr())->tp_new = nullptr;
  using Parts = std::make_index_sequence<TapeT::S>;
  ForwardEntry<Cell, Parts, typename Cell::Positional, typename Cell::Keywords>::def(m);
  BackwardEntry<Cell, Parts>::def(m);
}

}  // namespace bind
}  // namespace lstmfast
