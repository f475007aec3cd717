// rnn_forward / rnn_backward and RNNTape: the vanilla RNN as a cell kind of
// cell.h. State h; one gate, with the nonlinearity ('tanh' or 'relu') an
// extra forward argument that the tape keeps.
#include <string>

#include "bindings.h"
#include "cell.h"

namespace lstmfast {
namespace bind {
namespace {

struct Activation {
  static constexpr const char* name = "nonlinearity";
  using Python = std::string;
  Nonlinearity act;

  static Activation parse(const std::string& s) {
    if (s == "tanh") return {Nonlinearity::tanh};
    if (s == "relu") return {Nonlinearity::relu};
    throw py::value_error("nonlinearity: expected 'tanh' or 'relu', got '" + s + "'");
  }
  Activation tape_copy() const { return *this; }
  static py::object get(const Activation& a) { return py::str(a.act == Nonlinearity::tanh ? "tanh" : "relu"); }
};

struct Rnn : CellDefaults {
  static constexpr const char* forward_name = "rnn_forward";
  static constexpr const char* backward_name = "rnn_backward";
  static constexpr const char* tape_name = "RNNTape";
  static constexpr const char* tape_doc =
      "What rnn_forward(..., training=True) keeps for rnn_backward: private copies of x and the\n"
      "weights and h for every step (index 0 holds h0). Read-only; reusable.";
  static constexpr const char* w_hh_shape = "(H, H)";
  static constexpr int gates = 1;
  static constexpr StatePart parts[] = {
      {"h", "h0", "dh_n",
       "(T+1, B, H): h0 in slot 0, then h after each step t in slot t+1 (reverse=True:\n"
       "h after step t in slot t, h0 in slot lengths[b]); zeros at padding"}};
  static constexpr int tape_gates = 0;
  static constexpr const char* gates_doc = nullptr;
  static constexpr bool one_bias_gradient = true;
  using Positional = Arguments<Activation>;
  using Option = Activation;
  static int projected_hh_gates(const Option&) { return 1; }
  template <class T>
  using ForwardArgs = RnnForwardArgs<T>;
  template <class T>
  using BackwardArgs = RnnBackwardArgs<T>;

  template <class T>
  static constexpr auto forward = &TypedKernels<T>::rnn_forward;
  template <class T>
  static constexpr auto backward = &TypedKernels<T>::rnn_backward;
  template <class T>
  static void set(ForwardArgs<T>& a, const ForwardArrays<T, 1>&, const Option& option) {
    a.act = option.act;
  }
  template <class T>
  static void set(BackwardArgs<T>& a, const BackwardArrays<T, 1>& b, const Option& option) {
    a.act = option.act, a.db = b.db_ih;
  }
};

}  // namespace

void register_rnn(py::module_& m) { register_cell<Rnn>(m); }

}  // namespace bind
}  // namespace lstmfast
