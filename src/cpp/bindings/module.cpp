// lstmfast._core: the compiled half of lstmfast. Private; the public API is
// the Python package, which validates arguments before calling in here.
#include "../environment.h"
#include "bindings.h"
#include "signals.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "lstmfast's C++ kernels (private: use the lstmfast package)";
  // Read the environment now (the instruction set, threads, scratch cache),
  // so a bad LSTMFAST_* variable fails the import with its message rather
  // than some later call.
  lstmfast::check_environment();
  lstmfast::bind::record_main_thread();
  lstmfast::bind::register_config(m);
  lstmfast::bind::register_lstm(m);
  lstmfast::bind::register_rnn(m);
  lstmfast::bind::register_gru(m);
  lstmfast::bind::register_optimizers(m);
  lstmfast::bind::register_packed(m);
}
