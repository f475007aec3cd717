#include "signals.h"

#include <pythread.h>

#include <atomic>

namespace lstmfast {
namespace bind {
namespace {

std::atomic<unsigned long> g_main_thread{0};

}  // namespace

void record_main_thread() {
  g_main_thread.store(py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>());
}

bool on_main_thread() { return PyThread_get_thread_ident() == g_main_thread.load(); }

}  // namespace bind
}  // namespace lstmfast
