// rnn_forward / rnn_backward bindings (see lstm.cpp for the pattern).
#include <string>
#include <vector>

#include "../dispatch.h"
#include "arrays.h"
#include "bindings.h"

namespace lstmfast {
namespace bind {
namespace {

struct RnnTape {
  Dims d;
  Nonlinearity act;
  bool has_b_ih, has_b_hh;
  py::array x, w_ih, w_hh;
  py::array h_all;  // (T+1, B, H): the states, see Steps in api.h
  py::object lengths;
  bool reverse;
};

Nonlinearity parse_act(const std::string& s) {
  if (s == "tanh") return Nonlinearity::tanh;
  if (s == "relu") return Nonlinearity::relu;
  throw py::value_error("nonlinearity: expected 'tanh' or 'relu', got '" + s + "'");
}

template <class T>
py::tuple forward(const py::array& x, const py::array& w_ih, const py::array& w_hh, const py::object& b_ih,
                  const py::object& b_hh, const py::object& h0, Nonlinearity act, bool training,
                  const py::object& lengths, bool reverse) {
  const index_t T_ = dim(x, 0), B = dim(x, 1), I = dim(x, 2), H = dim(w_hh, 1), BH = B * H;
  if (H < 1 || I < 1) throw py::value_error("hidden and input sizes must be at least 1");
  const T* px = in<T>(x, "x", {T_, B, I});
  const T* pw_ih = in<T>(w_ih, "w_ih", {H, I});
  const T* pw_hh = in<T>(w_hh, "w_hh", {H, H});
  const T* pb_ih = in_opt<T>(b_ih, "b_ih", {H});
  const T* pb_hh = in_opt<T>(b_hh, "b_hh", {H});
  const T* ph0 = in_opt<T>(h0, "h0", {B, H});
  const Lengths len(lengths, T_, B);

  auto y = out<T>({T_, B, H});
  auto h_n = out<T>({B, H});
  const std::vector<T> bias = summed_bias(pb_ih, pb_hh, H, H);
  std::vector<T> zeros;
  if (!ph0) zeros.assign(static_cast<std::size_t>(BH), T(0));

  RnnForwardArgs<T> a{};
  a.d = Dims{T_, B, I, H};
  a.steps = Steps{len.data(), reverse};
  a.act = act;
  a.bias = bias.empty() ? nullptr : bias.data();
  a.h0 = ph0 ? ph0 : zeros.data();
  a.y = ptr(y);
  a.ldy = H;
  a.h_n = ptr(h_n);
  const auto& k = typed<T>(active_kernels());
  if (!training) {
    a.x = px, a.w_ih = pw_ih, a.w_hh = pw_hh;
    {
      py::gil_scoped_release nogil;
      k.rnn_forward(a);
    }
    return py::make_tuple(y, h_n, py::none());
  }
  TapeInputs<T> inputs(a.d, H);
  RnnTape tape{a.d,     act,          pb_ih != nullptr, pb_hh != nullptr, inputs.x, inputs.w_ih, inputs.w_hh,
               out<T>({T_ + 1, B, H}), len.copy(),  reverse};
  a.x = inputs.x_data, a.w_ih = inputs.w_ih_data, a.w_hh = inputs.w_hh_data;
  a.h_all = static_cast<T*>(tape.h_all.mutable_data());
  {
    py::gil_scoped_release nogil;
    inputs.fill(px, pw_ih, pw_hh);
    k.rnn_forward(a);
  }
  for (py::array* arr : {&tape.x, &tape.w_ih, &tape.w_hh, &tape.h_all}) freeze(*arr);
  return py::make_tuple(y, h_n, py::cast(std::move(tape)));
}

template <class T>
py::dict backward(const RnnTape& tape, const py::array& dy, const py::object& dh_n) {
  const Dims d = tape.d;
  const index_t T_ = d.T, B = d.B, I = d.I, H = d.H;
  RnnBackwardArgs<T> a{};
  a.d = d;
  const Lengths len(tape.lengths, T_, B);
  a.steps = Steps{len.data(), tape.reverse};
  a.act = tape.act;
  a.dy = in<T>(dy, "dy", {T_, B, H});
  a.ldy = H;
  a.dh_n = in_opt<T>(dh_n, "dh_n", {B, H});
  a.x = static_cast<const T*>(tape.x.data());
  a.w_ih = static_cast<const T*>(tape.w_ih.data());
  a.w_hh = static_cast<const T*>(tape.w_hh.data());
  a.h_all = static_cast<const T*>(tape.h_all.data());
  auto dx = out<T>({T_, B, I}), dh0 = out<T>({B, H}), dw_ih = out<T>({H, I}), dw_hh = out<T>({H, H});
  const bool any_bias = tape.has_b_ih || tape.has_b_hh;
  auto db = out<T>({any_bias ? H : 0});
  a.dx = ptr(dx), a.dh0 = ptr(dh0), a.dw_ih = ptr(dw_ih), a.dw_hh = ptr(dw_hh);
  a.db = any_bias ? ptr(db) : nullptr;
  {
    py::gil_scoped_release nogil;
    typed<T>(active_kernels()).rnn_backward(a);
  }
  py::dict g;
  g["x"] = dx, g["h0"] = dh0, g["w_ih"] = dw_ih, g["w_hh"] = dw_hh;
  g["b_ih"] = tape.has_b_ih ? py::object(db) : py::none();
  g["b_hh"] = tape.has_b_hh ? (tape.has_b_ih ? py::object(db.attr("copy")()) : py::object(db)) : py::none();
  return g;
}

}  // namespace

void register_rnn(py::module_& m) {
  py::class_<RnnTape>(m, "RNNTape",
                      "What rnn_forward(..., training=True) keeps for rnn_backward: private copies of x and the\n"
                      "weights and h for every step (index 0 holds h0). Read-only; reusable.")
      .def_property_readonly("shape", [](const RnnTape& t) { return py::make_tuple(t.d.T, t.d.B, t.d.I, t.d.H); },
                             "(T, B, I, H)")
      .def_property_readonly("dtype", [](const RnnTape& t) { return t.x.dtype(); })
      .def_property_readonly("nonlinearity",
                             [](const RnnTape& t) { return t.act == Nonlinearity::tanh ? "tanh" : "relu"; })
      .def_property_readonly("h", [](py::object self) { return read_only_view(self.cast<RnnTape&>().h_all, self); },
                             "(T+1, B, H): h0 in slot 0, then h after each step t in slot t+1 (reverse=True:\n"
                             "h after step t in slot t, h0 in slot lengths[b]); zeros at padding")
      .def_property_readonly("lengths", [](const RnnTape& t) { return t.lengths; })
      .def_property_readonly("reverse", [](const RnnTape& t) { return t.reverse; })
      .def_property_readonly(
          "nbytes", [](const RnnTape& t) { return t.x.nbytes() + t.w_ih.nbytes() + t.w_hh.nbytes() + t.h_all.nbytes(); })
      .def("__repr__", [](const RnnTape& t) {
        return "<RNNTape T=" + std::to_string(t.d.T) + " B=" + std::to_string(t.d.B) + " I=" +
               std::to_string(t.d.I) + " H=" + std::to_string(t.d.H) + " dtype=" + std::string(py::str(t.x.dtype())) +
               ">";
      });

  m.def(
      "rnn_forward",
      [](const py::array& x, const py::array& w_ih, const py::array& w_hh, const py::object& b_ih,
         const py::object& b_hh, const py::object& h0, const std::string& nonlinearity, bool training,
         const py::object& lengths, bool reverse) {
        require_float(x);
        require_ndim(x, "x", 3, "(T, B, I)");
        require_ndim(w_hh, "w_hh", 2, "(H, H)");
        const Nonlinearity act = parse_act(nonlinearity);
        return is_float32(x) ? forward<float>(x, w_ih, w_hh, b_ih, b_hh, h0, act, training, lengths, reverse)
                             : forward<double>(x, w_ih, w_hh, b_ih, b_hh, h0, act, training, lengths, reverse);
      },
      py::arg("x"), py::arg("w_ih"), py::arg("w_hh"), py::arg("b_ih"), py::arg("b_hh"), py::arg("h0"),
      py::arg("nonlinearity"), py::arg("training"), py::arg("lengths") = py::none(), py::arg("reverse") = false);
  m.def(
      "rnn_backward",
      [](const RnnTape& tape, const py::array& dy, const py::object& dh_n) {
        return is_float32(tape.x) ? backward<float>(tape, dy, dh_n) : backward<double>(tape, dy, dh_n);
      },
      py::arg("tape"), py::arg("dy"), py::arg("dh_n"));
}

}  // namespace bind
}  // namespace lstmfast
