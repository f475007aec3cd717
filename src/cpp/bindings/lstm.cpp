// lstm_forward / lstm_backward and LSTMTape: the LSTM as a cell kind of
// cell.h. State h and c; gates i, f, g, o; ONNX's peepholes and input_forget.
#include "bindings.h"
#include "cell.h"

namespace lstmfast {
namespace bind {
namespace {

struct LstmOption {
  py::object peepholes;  // None or an array, checked per dtype by Lstm::set
  bool input_forget;

  static LstmOption parse(const py::object& peepholes, const py::object& input_forget) {
    return {peepholes, flag_of(input_forget, "input_forget")};
  }
  // A tape's private, read-only copy of the peepholes.
  LstmOption tape_copy() const {
    if (!py::isinstance<py::array>(peepholes)) return *this;
    py::array copy = peepholes.attr("copy")();
    freeze(copy);
    return {copy, input_forget};
  }
  template <class T>
  const T* peepholes_of(index_t H) const {
    return in_opt<T>(peepholes, "peepholes", {3 * H});
  }
};

// peepholes=None: (3*H,) p_i, p_f, p_o, the gates' weights on the cell state.
struct Peepholes {
  static constexpr const char* name = "peepholes";
  using Python = py::object;
  static py::object default_value() { return py::none(); }
  static py::object get(const LstmOption& o) { return o.peepholes; }
};

// input_forget=False: f = 1 - i.
struct InputForget {
  static constexpr const char* name = "input_forget";
  using Python = py::object;  // checked by flag_of
  static py::object default_value() { return py::bool_(false); }
  static py::object get(const LstmOption& o) { return py::bool_(o.input_forget); }
};

struct Lstm : CellDefaults {
  static constexpr const char* forward_name = "lstm_forward";
  static constexpr const char* backward_name = "lstm_backward";
  static constexpr const char* tape_name = "LSTMTape";
  static constexpr const char* tape_doc =
      "What lstm_forward(..., training=True) keeps for lstm_backward: private copies of x and the\n"
      "weights, h and c for every step (index 0 holds h0 and c0) and the activated gates i, f, g, o.\n"
      "Read-only; may be used for backward any number of times.";
  static constexpr const char* w_hh_shape = "(4*H, H)";
  static constexpr int gates = 4;
  static constexpr StatePart parts[] = {
      {"h", "h0", "dh_n",
       "(T+1, B, H): h0 in slot 0, then h after each step t in slot t+1 (reverse=True:\n"
       "h after step t in slot t, h0 in slot lengths[b]); zeros at padding"},
      {"c", "c0", "dc_n", "(T+1, B, H): the cell states, laid out like h"}};
  static constexpr int tape_gates = 4;
  static constexpr const char* gates_doc = "(T, B, 4H): activated gates i, f, g, o (PyTorch order) for every step";
  static constexpr bool one_bias_gradient = true;
  using Keywords = Arguments<Peepholes, InputForget>;
  using Option = LstmOption;
  static int projected_hh_gates(const Option&) { return 4; }
  template <class T>
  using ForwardArgs = LstmForwardArgs<T>;
  template <class T>
  using BackwardArgs = LstmBackwardArgs<T>;

  template <class T>
  static constexpr auto forward = &TypedKernels<T>::lstm_forward;
  template <class T>
  static constexpr auto backward = &TypedKernels<T>::lstm_backward;
  template <class T>
  static void set(ForwardArgs<T>& a, const ForwardArrays<T, 2>& f, const Option& option) {
    a.c0 = f.initial[1], a.c_n = f.final[1], a.c_all = f.all[1], a.gates = f.gates;
    a.peepholes = option.peepholes_of<T>(a.d.H), a.input_forget = option.input_forget;
  }
  template <class T>
  static void set(BackwardArgs<T>& a, const BackwardArrays<T, 2>& b, const Option& option) {
    a.c_all = b.all[1], a.gates = b.gates, a.dc_n = b.final_grad[1], a.dc0 = b.initial_grad[1], a.db = b.db_ih;
    a.peepholes = option.peepholes_of<T>(a.d.H), a.input_forget = option.input_forget;
  }
  template <class T>
  static void add_gradients(BackwardArgs<T>& a, const Option&, py::dict& grads) {
    if (!a.peepholes) return;
    auto dp = out<T>({3 * a.d.H}, 0);
    a.dpeepholes = ptr(dp);
    grads["peepholes"] = dp;
  }
};

}  // namespace

void register_lstm(py::module_& m) { register_cell<Lstm>(m); }

}  // namespace bind
}  // namespace lstmfast
