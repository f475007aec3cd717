// gru_forward / gru_backward and GRUTape: the GRU as a cell kind of cell.h.
// State h; gates r, z, n, whose b_hn stays out of the input projection
// (inside the reset gate's product), so b_ih and b_hh get gradients apart.
#include "bindings.h"
#include "cell.h"

namespace lstmfast {
namespace bind {
namespace {

struct Gru {
  static constexpr const char* forward_name = "gru_forward";
  static constexpr const char* backward_name = "gru_backward";
  static constexpr const char* tape_name = "GRUTape";
  static constexpr const char* tape_doc =
      "What gru_forward(..., training=True) keeps for gru_backward: private copies of x and the\n"
      "weights, h for every step and the gates r, z, n with hn = h W_hn^T + b_hn. Read-only; reusable.";
  static constexpr const char* w_hh_shape = "(3*H, H)";
  static constexpr int gates = 3;
  static constexpr StatePart parts[] = {{"h", "h0", "dh_n", "(T+1, B, H): the states, laid out like LSTMTape.h"}};
  static constexpr int tape_gates = 4;
  static constexpr const char* gates_doc = "(T, B, 4H): r, z, n and hn = h<t-1> W_hn^T + b_hn for every step";
  static constexpr int projected_hh_gates = 2;
  static constexpr bool one_bias_gradient = false;
  using Option = NoOption;
  template <class T>
  using ForwardArgs = GruForwardArgs<T>;
  template <class T>
  using BackwardArgs = GruBackwardArgs<T>;

  template <class T>
  static constexpr auto forward = &TypedKernels<T>::gru_forward;
  template <class T>
  static constexpr auto backward = &TypedKernels<T>::gru_backward;
  template <class T>
  static void set(ForwardArgs<T>& a, const ForwardArrays<T, 1>& f, Option) {
    a.b_hn = f.b_hh ? f.b_hh + 2 * a.d.H : nullptr, a.gates = f.gates;
  }
  template <class T>
  static void set(BackwardArgs<T>& a, const BackwardArrays<T, 1>& b, Option) {
    a.gates = b.gates, a.db_ih = b.db_ih, a.db_hh = b.db_hh;
  }
};

}  // namespace

void register_gru(py::module_& m) { register_cell<Gru>(m); }

}  // namespace bind
}  // namespace lstmfast
