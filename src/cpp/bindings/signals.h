// Ctrl-C during a long kernel call: the call runs with the GIL released, so
// Python cannot act on the signal until it returns (minutes, for a long
// sequence). Signals gives the kernels an Interrupt (../interrupt.h) whose
// check takes the GIL and runs Python's signal handlers; when one raises
// (KeyboardInterrupt), the kernels stop at the next step and the call raises
// that exception. Only the main thread receives signals in Python, so calls
// from other threads get no Interrupt (and pay nothing).
#pragma once

#include <pybind11/pybind11.h>

#include <memory>

#include "../interrupt.h"

namespace lstmfast {
namespace bind {

namespace py = pybind11;

// The main thread's id, recorded at import (call from the module's init).
void record_main_thread();
bool on_main_thread();

class Signals {
 public:
  Signals() : interrupt_(on_main_thread() ? std::make_unique<Interrupt>(&Signals::check, this) : nullptr) {}
  // For the kernel's args (nullptr off the main thread).
  Interrupt* interrupt() const { return interrupt_.get(); }
  // With the GIL, after the kernel: raise what a handler raised.
  void raise_if_interrupted() {
    if (error_) throw py::error_already_set(std::move(*error_));
  }

 private:
  static bool check(void* self) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() == 0) return false;
    static_cast<Signals*>(self)->error_ = std::make_unique<py::error_already_set>();
    return true;
  }
  std::unique_ptr<Interrupt> interrupt_;
  std::unique_ptr<py::error_already_set> error_;
};

}  // namespace bind
}  // namespace lstmfast
