// lstmfast._core: the compiled half of lstmfast. Private; the public API is
// the Python package, which validates arguments before calling in here.
#include "../dispatch.h"
#include "bindings.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "lstmfast's C++ kernels (private: use the lstmfast package)";
  // Choose the instruction set now, so a bad LSTMFAST_ISA fails the import
  // with its message rather than the first call.
  lstmfast::active_kernels();
  lstmfast::bind::register_config(m);
  lstmfast::bind::register_lstm(m);
  lstmfast::bind::register_rnn(m);
  lstmfast::bind::register_gru(m);
}
