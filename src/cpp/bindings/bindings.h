// One register_* per area; module.cpp is the table of contents.
#pragma once

#include <pybind11/pybind11.h>

namespace lstmfast {
namespace bind {

void register_config(pybind11::module_& m);
void register_lstm(pybind11::module_& m);
void register_rnn(pybind11::module_& m);
void register_gru(pybind11::module_& m);
void register_optimizers(pybind11::module_& m);
void register_packed(pybind11::module_& m);

}  // namespace bind
}  // namespace lstmfast
