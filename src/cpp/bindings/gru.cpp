// gru_forward / gru_backward bindings (see lstm.cpp for the pattern).
#include <string>
#include <vector>

#include "../dispatch.h"
#include "arrays.h"
#include "bindings.h"

namespace lstmfast {
namespace bind {
namespace {

struct GruTape {
  Dims d;
  bool has_b_ih, has_b_hh;
  py::array x, w_ih, w_hh;
  py::array h_all;  // (T+1, B, H): the states, see Steps in api.h
  py::array gates;  // (T, B, 4H): r, z, n, hn
  py::object lengths;
  bool reverse;
};

template <class T>
py::tuple forward(const py::array& x, const py::array& w_ih, const py::array& w_hh, const py::object& b_ih,
                  const py::object& b_hh, const py::object& h0, bool training, const py::object& lengths,
                  bool reverse) {
  const index_t T_ = dim(x, 0), B = dim(x, 1), I = dim(x, 2), H = dim(w_hh, 1), G = 3 * H, BH = B * H;
  if (H < 1 || I < 1) throw py::value_error("hidden and input sizes must be at least 1");
  const T* px = in<T>(x, "x", {T_, B, I});
  const T* pw_ih = in<T>(w_ih, "w_ih", {G, I});
  const T* pw_hh = in<T>(w_hh, "w_hh", {G, H});
  const T* pb_ih = in_opt<T>(b_ih, "b_ih", {G});
  const T* pb_hh = in_opt<T>(b_hh, "b_hh", {G});
  const T* ph0 = in_opt<T>(h0, "h0", {B, H});
  const Lengths len(lengths, T_, B);

  auto y = out<T>({T_, B, H});
  auto h_n = out<T>({B, H});
  // The input projection takes b_ih and the r, z parts of b_hh; b_hn stays
  // inside the reset gate's product.
  const std::vector<T> bias = summed_bias(pb_ih, pb_hh, G, 2 * H);
  std::vector<T> zeros;
  if (!ph0) zeros.assign(static_cast<std::size_t>(BH), T(0));

  GruForwardArgs<T> a{};
  a.d = Dims{T_, B, I, H};
  a.steps = Steps{len.data(), reverse};
  a.bias = bias.empty() ? nullptr : bias.data();
  a.b_hn = pb_hh ? pb_hh + 2 * H : nullptr;
  a.h0 = ph0 ? ph0 : zeros.data();
  a.y = ptr(y);
  a.ldy = H;
  a.h_n = ptr(h_n);
  const auto& k = typed<T>(active_kernels());
  if (!training) {
    a.x = px, a.w_ih = pw_ih, a.w_hh = pw_hh;
    {
      py::gil_scoped_release nogil;
      k.gru_forward(a);
    }
    return py::make_tuple(y, h_n, py::none());
  }
  TapeInputs<T> inputs(a.d, G);
  GruTape tape{a.d,        pb_ih != nullptr, pb_hh != nullptr,       inputs.x,   inputs.w_ih, inputs.w_hh,
               out<T>({T_ + 1, B, H}), out<T>({T_, B, 4 * H}), len.copy(), reverse};
  a.x = inputs.x_data, a.w_ih = inputs.w_ih_data, a.w_hh = inputs.w_hh_data;
  a.h_all = static_cast<T*>(tape.h_all.mutable_data());
  a.gates = static_cast<T*>(tape.gates.mutable_data());
  {
    py::gil_scoped_release nogil;
    inputs.fill(px, pw_ih, pw_hh);
    k.gru_forward(a);
  }
  for (py::array* arr : {&tape.x, &tape.w_ih, &tape.w_hh, &tape.h_all, &tape.gates}) freeze(*arr);
  return py::make_tuple(y, h_n, py::cast(std::move(tape)));
}

template <class T>
py::dict backward(const GruTape& tape, const py::array& dy, const py::object& dh_n) {
  const Dims d = tape.d;
  const index_t T_ = d.T, B = d.B, I = d.I, H = d.H, G = 3 * H;
  GruBackwardArgs<T> a{};
  a.d = d;
  const Lengths len(tape.lengths, T_, B);
  a.steps = Steps{len.data(), tape.reverse};
  a.dy = in<T>(dy, "dy", {T_, B, H});
  a.ldy = H;
  a.dh_n = in_opt<T>(dh_n, "dh_n", {B, H});
  a.x = static_cast<const T*>(tape.x.data());
  a.w_ih = static_cast<const T*>(tape.w_ih.data());
  a.w_hh = static_cast<const T*>(tape.w_hh.data());
  a.h_all = static_cast<const T*>(tape.h_all.data());
  a.gates = static_cast<const T*>(tape.gates.data());
  auto dx = out<T>({T_, B, I}), dh0 = out<T>({B, H}), dw_ih = out<T>({G, I}), dw_hh = out<T>({G, H});
  auto db_ih = out<T>({tape.has_b_ih ? G : 0}), db_hh = out<T>({tape.has_b_hh ? G : 0});
  a.dx = ptr(dx), a.dh0 = ptr(dh0), a.dw_ih = ptr(dw_ih), a.dw_hh = ptr(dw_hh);
  a.db_ih = tape.has_b_ih ? ptr(db_ih) : nullptr;
  a.db_hh = tape.has_b_hh ? ptr(db_hh) : nullptr;
  {
    py::gil_scoped_release nogil;
    typed<T>(active_kernels()).gru_backward(a);
  }
  py::dict g;
  g["x"] = dx, g["h0"] = dh0, g["w_ih"] = dw_ih, g["w_hh"] = dw_hh;
  g["b_ih"] = tape.has_b_ih ? py::object(db_ih) : py::none();
  g["b_hh"] = tape.has_b_hh ? py::object(db_hh) : py::none();
  return g;
}

}  // namespace

void register_gru(py::module_& m) {
  py::class_<GruTape>(m, "GRUTape",
                      "What gru_forward(..., training=True) keeps for gru_backward: private copies of x and the\n"
                      "weights, h for every step and the gates r, z, n with hn = h W_hn^T + b_hn. Read-only; reusable.")
      .def_property_readonly("shape", [](const GruTape& t) { return py::make_tuple(t.d.T, t.d.B, t.d.I, t.d.H); },
                             "(T, B, I, H)")
      .def_property_readonly("dtype", [](const GruTape& t) { return t.x.dtype(); })
      .def_property_readonly("h", [](py::object self) { return read_only_view(self.cast<GruTape&>().h_all, self); },
                             "(T+1, B, H): the states, laid out like LSTMTape.h")
      .def_property_readonly("gates",
                             [](py::object self) { return read_only_view(self.cast<GruTape&>().gates, self); },
                             "(T, B, 4H): r, z, n and hn = h<t-1> W_hn^T + b_hn for every step")
      .def_property_readonly("lengths", [](const GruTape& t) { return t.lengths; })
      .def_property_readonly("reverse", [](const GruTape& t) { return t.reverse; })
      .def_property_readonly("nbytes",
                             [](const GruTape& t) {
                               return t.x.nbytes() + t.w_ih.nbytes() + t.w_hh.nbytes() + t.h_all.nbytes() +
                                      t.gates.nbytes();
                             })
      .def("__repr__", [](const GruTape& t) {
        return "<GRUTape T=" + std::to_string(t.d.T) + " B=" + std::to_string(t.d.B) + " I=" +
               std::to_string(t.d.I) + " H=" + std::to_string(t.d.H) + " dtype=" + std::string(py::str(t.x.dtype())) +
               ">";
      });

  m.def(
      "gru_forward",
      [](const py::array& x, const py::array& w_ih, const py::array& w_hh, const py::object& b_ih,
         const py::object& b_hh, const py::object& h0, bool training, const py::object& lengths, bool reverse) {
        require_float(x);
        require_ndim(x, "x", 3, "(T, B, I)");
        require_ndim(w_hh, "w_hh", 2, "(3*H, H)");
        return is_float32(x) ? forward<float>(x, w_ih, w_hh, b_ih, b_hh, h0, training, lengths, reverse)
                             : forward<double>(x, w_ih, w_hh, b_ih, b_hh, h0, training, lengths, reverse);
      },
      py::arg("x"), py::arg("w_ih"), py::arg("w_hh"), py::arg("b_ih"), py::arg("b_hh"), py::arg("h0"),
      py::arg("training"), py::arg("lengths") = py::none(), py::arg("reverse") = false);
  m.def(
      "gru_backward",
      [](const GruTape& tape, const py::array& dy, const py::object& dh_n) {
        return is_float32(tape.x) ? backward<float>(tape, dy, dh_n) : backward<double>(tape, dy, dh_n);
      },
      py::arg("tape"), py::arg("dy"), py::arg("dh_n"));
}

}  // namespace bind
}  // namespace lstmfast
