// lstm_forward / lstm_backward and LSTMTape: the LSTM as a cell kind of
// cell.h. State h and c; gates i, f, g, o.
#include "bindings.h"
#include "cell.h"

namespace lstmfast {
namespace bind {
namespace {

struct Lstm {
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
  static constexpr int projected_hh_gates = 4;
  static constexpr bool one_bias_gradient = true;
  using Option = NoOption;
  template <class T>
  using ForwardArgs = LstmForwardArgs<T>;
  template <class T>
  using BackwardArgs = LstmBackwardArgs<T>;

  template <class T>
  static constexpr auto forward = &TypedKernels<T>::lstm_forward;
  template <class T>
  static constexpr auto backward = &TypedKernels<T>::lstm_backward;
  template <class T>
  static void set(ForwardArgs<T>& a, const ForwardArrays<T, 2>& f, Option) {
    a.c0 = f.initial[1], a.c_n = f.final[1], a.c_all = f.all[1], a.gates = f.gates;
  }
  template <class T>
  static void set(BackwardArgs<T>& a, const BackwardArrays<T, 2>& b, Option) {
    a.c_all = b.all[1], a.gates = b.gates, a.dc_n = b.final_grad[1], a.dc0 = b.initial_grad[1], a.db = b.db_ih;
  }
};

}  // namespace

void register_lstm(py::module_& m) { register_cell<Lstm>(m); }

}  // namespace bind
}  // namespace lstmfast
