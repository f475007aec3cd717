// lstm_forward / lstm_backward: check buffers, allocate outputs and the tape,
// release the GIL, call the active ISA's kernels.
#include <vector>

#include "../dispatch.h"
#include "arrays.h"
#include "bindings.h"

namespace lstmfast {
namespace bind {
namespace {

// What BPTT needs, as private copies (the caller may change its arrays after
// forward) in one dtype. Read-only once filled.
struct LstmTape {
  Dims d;
  bool has_b_ih, has_b_hh;
  py::array x, w_ih, w_hh;  // copies of the inputs
  py::array h_all;          // (T+1, B, H): the states, see Steps in api.h
  py::array c_all;          // (T+1, B, H)
  py::array gates;          // (T, B, 4H): activated i, f, g, o
  py::object lengths;       // int64 (B,) copy, or None
  bool reverse;
};

template <class T>
py::tuple forward(const py::array& x, const py::array& w_ih, const py::array& w_hh, const py::object& b_ih,
                  const py::object& b_hh, const py::object& h0, const py::object& c0, bool training,
                  const py::object& lengths, bool reverse) {
  const index_t T_ = dim(x, 0), B = dim(x, 1), I = dim(x, 2), H = dim(w_hh, 1), G = 4 * H, BH = B * H;
  if (H < 1 || I < 1) throw py::value_error("hidden and input sizes must be at least 1");
  const T* px = in<T>(x, "x", {T_, B, I});
  const T* pw_ih = in<T>(w_ih, "w_ih", {G, I});
  const T* pw_hh = in<T>(w_hh, "w_hh", {G, H});
  const T* pb_ih = in_opt<T>(b_ih, "b_ih", {G});
  const T* pb_hh = in_opt<T>(b_hh, "b_hh", {G});
  const T* ph0 = in_opt<T>(h0, "h0", {B, H});
  const T* pc0 = in_opt<T>(c0, "c0", {B, H});
  const Lengths len(lengths, T_, B);

  auto y = out<T>({T_, B, H});
  auto h_n = out<T>({B, H});
  auto c_n = out<T>({B, H});
  const std::vector<T> bias = summed_bias(pb_ih, pb_hh, G, G);
  std::vector<T> zeros;
  if (!ph0 || !pc0) zeros.assign(static_cast<std::size_t>(BH), T(0));

  LstmForwardArgs<T> a{};
  a.d = Dims{T_, B, I, H};
  a.steps = Steps{len.data(), reverse};
  a.bias = bias.empty() ? nullptr : bias.data();
  a.h0 = ph0 ? ph0 : zeros.data();
  a.c0 = pc0 ? pc0 : zeros.data();
  a.y = ptr(y);
  a.ldy = H;
  a.h_n = ptr(h_n);
  a.c_n = ptr(c_n);
  const auto& k = typed<T>(active_kernels());

  if (!training) {
    a.x = px, a.w_ih = pw_ih, a.w_hh = pw_hh;
    {
      py::gil_scoped_release nogil;
      k.lstm_forward(a);
    }
    return py::make_tuple(y, h_n, c_n, py::none());
  }

  TapeInputs<T> inputs(a.d, G);
  LstmTape tape{a.d,
                pb_ih != nullptr,
                pb_hh != nullptr,
                inputs.x,
                inputs.w_ih,
                inputs.w_hh,
                out<T>({T_ + 1, B, H}),
                out<T>({T_ + 1, B, H}),
                out<T>({T_, B, G}),
                len.copy(),
                reverse};
  a.x = inputs.x_data, a.w_ih = inputs.w_ih_data, a.w_hh = inputs.w_hh_data;
  a.gates = static_cast<T*>(tape.gates.mutable_data());
  a.h_all = static_cast<T*>(tape.h_all.mutable_data());
  a.c_all = static_cast<T*>(tape.c_all.mutable_data());
  {
    py::gil_scoped_release nogil;
    inputs.fill(px, pw_ih, pw_hh);
    k.lstm_forward(a);
  }
  for (py::array* arr : {&tape.x, &tape.w_ih, &tape.w_hh, &tape.h_all, &tape.c_all, &tape.gates}) freeze(*arr);
  return py::make_tuple(y, h_n, c_n, py::cast(std::move(tape)));
}

template <class T>
py::dict backward(const LstmTape& tape, const py::array& dy, const py::object& dh_n, const py::object& dc_n) {
  const Dims d = tape.d;
  const index_t T_ = d.T, B = d.B, I = d.I, H = d.H, G = 4 * H;
  LstmBackwardArgs<T> a{};
  a.d = d;
  const Lengths len(tape.lengths, T_, B);
  a.steps = Steps{len.data(), tape.reverse};
  a.dy = in<T>(dy, "dy", {T_, B, H});
  a.ldy = H;
  a.dh_n = in_opt<T>(dh_n, "dh_n", {B, H});
  a.dc_n = in_opt<T>(dc_n, "dc_n", {B, H});
  a.x = static_cast<const T*>(tape.x.data());
  a.w_ih = static_cast<const T*>(tape.w_ih.data());
  a.w_hh = static_cast<const T*>(tape.w_hh.data());
  a.h_all = static_cast<const T*>(tape.h_all.data());
  a.c_all = static_cast<const T*>(tape.c_all.data());
  a.gates = static_cast<const T*>(tape.gates.data());
  auto dx = out<T>({T_, B, I}), dh0 = out<T>({B, H}), dc0 = out<T>({B, H});
  auto dw_ih = out<T>({G, I}), dw_hh = out<T>({G, H});
  const bool any_bias = tape.has_b_ih || tape.has_b_hh;
  auto db = out<T>({any_bias ? G : 0});
  a.dx = ptr(dx), a.dh0 = ptr(dh0), a.dc0 = ptr(dc0), a.dw_ih = ptr(dw_ih), a.dw_hh = ptr(dw_hh);
  a.db = any_bias ? ptr(db) : nullptr;
  {
    py::gil_scoped_release nogil;
    typed<T>(active_kernels()).lstm_backward(a);
  }
  py::dict g;
  g["x"] = dx, g["h0"] = dh0, g["c0"] = dc0, g["w_ih"] = dw_ih, g["w_hh"] = dw_hh;
  // Both biases receive the same gradient; each key gets its own array.
  g["b_ih"] = tape.has_b_ih ? py::object(db) : py::none();
  g["b_hh"] = tape.has_b_hh ? (tape.has_b_ih ? py::object(db.attr("copy")()) : py::object(db)) : py::none();
  return g;
}

}  // namespace

void register_lstm(py::module_& m) {
  py::class_<LstmTape>(m, "LSTMTape",
                       "What lstm_forward(..., training=True) keeps for lstm_backward: private copies of x and the\n"
                       "weights, h and c for every step (index 0 holds h0 and c0) and the activated gates i, f, g, o.\n"
                       "Read-only; may be used for backward any number of times.")
      .def_property_readonly("shape", [](const LstmTape& t) { return py::make_tuple(t.d.T, t.d.B, t.d.I, t.d.H); },
                             "(T, B, I, H)")
      .def_property_readonly("dtype", [](const LstmTape& t) { return t.x.dtype(); })
      .def_property_readonly("h", [](py::object self) { return read_only_view(self.cast<LstmTape&>().h_all, self); },
                             "(T+1, B, H): h0 in slot 0, then h after each step t in slot t+1 (reverse=True:\n"
                             "h after step t in slot t, h0 in slot lengths[b]); zeros at padding")
      .def_property_readonly("c", [](py::object self) { return read_only_view(self.cast<LstmTape&>().c_all, self); },
                             "(T+1, B, H): the cell states, laid out like h")
      .def_property_readonly("lengths", [](const LstmTape& t) { return t.lengths; })
      .def_property_readonly("reverse", [](const LstmTape& t) { return t.reverse; })
      .def_property_readonly("gates",
                             [](py::object self) { return read_only_view(self.cast<LstmTape&>().gates, self); },
                             "(T, B, 4H): activated gates i, f, g, o (PyTorch order) for every step")
      .def_property_readonly("nbytes",
                             [](const LstmTape& t) {
                               return t.x.nbytes() + t.w_ih.nbytes() + t.w_hh.nbytes() + t.h_all.nbytes() +
                                      t.c_all.nbytes() + t.gates.nbytes();
                             })
      .def("__repr__", [](const LstmTape& t) {
        return "<LSTMTape T=" + std::to_string(t.d.T) + " B=" + std::to_string(t.d.B) + " I=" +
               std::to_string(t.d.I) + " H=" + std::to_string(t.d.H) + " dtype=" + std::string(py::str(t.x.dtype())) +
               ">";
      });

  m.def(
      "lstm_forward",
      [](const py::array& x, const py::array& w_ih, const py::array& w_hh, const py::object& b_ih,
         const py::object& b_hh, const py::object& h0, const py::object& c0, bool training,
         const py::object& lengths, bool reverse) {
        require_float(x);
        require_ndim(x, "x", 3, "(T, B, I)");
        require_ndim(w_hh, "w_hh", 2, "(4*H, H)");
        return is_float32(x) ? forward<float>(x, w_ih, w_hh, b_ih, b_hh, h0, c0, training, lengths, reverse)
                             : forward<double>(x, w_ih, w_hh, b_ih, b_hh, h0, c0, training, lengths, reverse);
      },
      py::arg("x"), py::arg("w_ih"), py::arg("w_hh"), py::arg("b_ih"), py::arg("b_hh"), py::arg("h0"),
      py::arg("c0"), py::arg("training"), py::arg("lengths") = py::none(), py::arg("reverse") = false);
  m.def(
      "lstm_backward",
      [](const LstmTape& tape, const py::array& dy, const py::object& dh_n, const py::object& dc_n) {
        return is_float32(tape.x) ? backward<float>(tape, dy, dh_n, dc_n) : backward<double>(tape, dy, dh_n, dc_n);
      },
      py::arg("tape"), py::arg("dy"), py::arg("dh_n"), py::arg("dc_n"));
}

}  // namespace bind
}  // namespace lstmfast
