// gru_forward / gru_backward and GRUTape: the GRU as a cell kind of cell.h.
// State h; gates r, z, n, whose b_hn stays out of the input projection
// (inside the reset gate's product), so b_ih and b_hh get gradients apart;
// with reset_after=False the reset gate scales h<t-1> before the product and
// b_hn is projected with the rest.
#include "bindings.h"
#include "cell.h"

namespace lstmfast {
namespace bind {
namespace {

struct GruOption {
  bool reset_after;
  static GruOption parse(const py::object& reset_after) { return {flag_of(reset_after, "reset_after")}; }
  GruOption tape_copy() const { return *this; }
};

// reset_after=True: PyTorch's GRU; False: ONNX's linear_before_reset=0.
struct ResetAfter {
  static constexpr const char* name = "reset_after";
  using Python = py::object;  // checked by flag_of
  static py::object default_value() { return py::bool_(true); }
  static py::object get(const GruOption& o) { return py::bool_(o.reset_after); }
};

struct Gru : CellDefaults {
  static constexpr const char* forward_name = "gru_forward";
  static constexpr const char* backward_name = "gru_backward";
  static constexpr const char* tape_name = "GRUTape";
  static constexpr const char* tape_doc =
      "What gru_forward(..., training=True) keeps for gru_backward: private copies of x and the\n"
      "weights, h for every step and the gates r, z, n with hn = h W_hn^T + b_hn (reset_after=False:\n"
      "r * h, the operand of W_hn). Read-only; reusable.";
  static constexpr const char* w_hh_shape = "(3*H, H)";
  static constexpr int gates = 3;
  static constexpr StatePart parts[] = {{"h", "h0", "dh_n", "(T+1, B, H): the states, laid out like LSTMTape.h"}};
  static constexpr int tape_gates = 4;
  static constexpr const char* gates_doc =
      "(T, B, 4H): r, z, n and hn = h<t-1> W_hn^T + b_hn (reset_after=False: r * h<t-1>) for every step";
  static constexpr bool one_bias_gradient = false;
  using Keywords = Arguments<ResetAfter>;
  using Option = GruOption;
  static int projected_hh_gates(const Option& o) { return o.reset_after ? 2 : 3; }
  static bool two_products(const Option& o) { return !o.reset_after; }
  static void check_bfloat16(const Option& o) {
    if (!o.reset_after)
      throw py::value_error(
          "precision='bfloat16': the GRU with reset_after=False has no bfloat16 kernel (its second product reads "
          "r * h<t-1> made within the step); use reset_after=True or precision=None");
  }
  template <class T>
  using ForwardArgs = GruForwardArgs<T>;
  template <class T>
  using BackwardArgs = GruBackwardArgs<T>;

  template <class T>
  static constexpr auto forward = &TypedKernels<T>::gru_forward;
  template <class T>
  static constexpr auto backward = &TypedKernels<T>::gru_backward;
  template <class T>
  static void set(ForwardArgs<T>& a, const ForwardArrays<T, 1>& f, const Option& o) {
    a.b_hn = f.b_hh && o.reset_after ? f.b_hh + 2 * a.d.H : nullptr, a.gates = f.gates;
    a.reset_before = !o.reset_after;
  }
  template <class T>
  static void set(BackwardArgs<T>& a, const BackwardArrays<T, 1>& b, const Option& o) {
    a.gates = b.gates, a.db_ih = b.db_ih, a.db_hh = b.db_hh, a.reset_before = !o.reset_after;
  }
};

}  // namespace

void register_gru(py::module_& m) { register_cell<Gru>(m); }

}  // namespace bind
}  // namespace lstmfast
