// The optimizers' in-place updates (api.h, isa/optimizers.cpp) for
// lstmfast.training.optim, which checks the hyperparameters; these checks keep
// the module safe when it is called directly.
#include <string>
#include <type_traits>
#include <vector>

#include "../dispatch.h"
#include "arrays.h"
#include "bindings.h"

namespace lstmfast {
namespace bind {
namespace {

// Above this many elements the update releases the GIL (another Python thread
// changing the arrays meanwhile races as it would with NumPy's in-place
// operators; the arrays stay alive, so it cannot crash).
constexpr index_t kReleaseGilElements = index_t(1) << 16;

struct Bytes {
  const char* begin;
  const char* end;
  bool overlaps(const Bytes& o) const { return begin < o.end && o.begin < end; }
};

Bytes bytes_of(const py::array& a) {
  const char* p = static_cast<const char*>(a.data());
  return {p, p + a.nbytes()};
}

// An array the update writes: of p's dtype and shape, C-contiguous, aligned, writeable.
template <class T>
T* written(const py::array& a, const char* name, const std::vector<index_t>& shape) {
  in<T>(a, name, shape);
  if (!a.writeable()) throw py::value_error(std::string(name) + ": the array is read-only; it is updated in place");
  return static_cast<T*>(const_cast<void*>(a.data()));
}

// One parameter's update, checked: pointers into its arrays, which `held`
// keeps alive.
struct AdamTask {
  bool f32;
  void* p;
  const void* g;
  void* m;
  void* v;
  index_t n;
  double step_size, bias2_sqrt;
};

template <class T>
AdamTask adam_task(const py::array& p, const py::array& g, const py::array& m, const py::array& v,
                   const std::string& at, double step_size, double bias2_sqrt, std::vector<py::array>& held) {
  const std::vector<index_t> shape(p.shape(), p.shape() + p.ndim());
  T* pp = written<T>(p, ("params" + at).c_str(), shape);
  T* pm = written<T>(m, ("exp_avgs" + at).c_str(), shape);
  T* pv = written<T>(v, ("exp_avg_sqs" + at).c_str(), shape);
  const T* pg = in<T>(g, ("grads" + at).c_str(), shape);
  const Bytes bp = bytes_of(p), bm = bytes_of(m), bv = bytes_of(v), bg = bytes_of(g);
  if (bp.overlaps(bm) || bp.overlaps(bv) || bm.overlaps(bv))
    throw py::value_error("params" + at + ", exp_avgs" + at + " and exp_avg_sqs" + at +
                          ": expected three arrays that do not share memory");
  held.insert(held.end(), {p, g, m, v});
  if (bg.overlaps(bp) || bg.overlaps(bm) || bg.overlaps(bv)) {  // read as it was before the update
    held.push_back(g.attr("copy")().cast<py::array>());
    pg = static_cast<const T*>(held.back().data());
  }
  return {std::is_same_v<T, float>, pp, pg, pm, pv, static_cast<index_t>(p.size()), step_size, bias2_sqrt};
}

template <class T>
void run_adam(const AdamTask& t, double beta1, double beta2, double eps, double weight_decay) {
  const AdamStep<T> s{T(beta1),       T(1.0 - beta1),  T(beta2), T(1.0 - beta2),
                      T(t.step_size), T(t.bias2_sqrt), T(eps),   T(weight_decay)};
  typed<T>(active_kernels()).adam_update(static_cast<T*>(t.p), static_cast<const T*>(t.g), static_cast<T*>(t.m),
                                         static_cast<T*>(t.v), t.n, s);
}

py::array array_at(const py::sequence& seq, std::size_t i, const std::string& name) {
  py::object item = seq[i];
  if (!py::isinstance<py::array>(item))
    throw py::type_error(name + ": expected a NumPy array, got " + Py_TYPE(item.ptr())->tp_name);
  return py::reinterpret_borrow<py::array>(item);
}

double number_at(const py::sequence& seq, std::size_t i, const std::string& name) {
  py::object item = seq[i];
  try {
    return py::cast<double>(item);
  } catch (const py::cast_error&) {
    throw py::type_error(name + ": expected a number, got " + Py_TYPE(item.ptr())->tp_name);
  }
}

// Every parameter's Adam step in order, after every one is checked: a refused
// call writes nothing.
void adam_all(const py::sequence& params, const py::sequence& grads, const py::sequence& exp_avgs,
              const py::sequence& exp_avg_sqs, const py::sequence& step_sizes, const py::sequence& bias2_sqrts,
              double beta1, double beta2, double eps, double weight_decay) {
  const std::size_t n = params.size();
  const std::size_t sizes[] = {grads.size(), exp_avgs.size(), exp_avg_sqs.size(), step_sizes.size(), bias2_sqrts.size()};
  for (std::size_t size : sizes)
    if (size != n)
      throw py::value_error("params, grads, exp_avgs, exp_avg_sqs, step_sizes and bias2_sqrts: expected "
                            "sequences of one length, got " + std::to_string(n) + " parameters and a sequence of " +
                            std::to_string(size));
  std::vector<py::array> held;  // alive while the GIL is released
  std::vector<AdamTask> tasks;
  held.reserve(4 * n);
  tasks.reserve(n);
  index_t elements = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string at = "[" + std::to_string(i) + "]";
    const py::array p = array_at(params, i, "params" + at), g = array_at(grads, i, "grads" + at);
    const py::array m = array_at(exp_avgs, i, "exp_avgs" + at), v = array_at(exp_avg_sqs, i, "exp_avg_sqs" + at);
    const double step_size = number_at(step_sizes, i, "step_sizes" + at);
    const double bias2_sqrt = number_at(bias2_sqrts, i, "bias2_sqrts" + at);
    if (!is_float32(p) && !is_float64(p))
      throw py::type_error("params" + at + ": expected dtype float32 or float64, got " + std::string(py::str(p.dtype())));
    tasks.push_back(is_float32(p) ? adam_task<float>(p, g, m, v, at, step_size, bias2_sqrt, held)
                                  : adam_task<double>(p, g, m, v, at, step_size, bias2_sqrt, held));
    elements += tasks.back().n;
  }
  auto run = [&] {
    for (const AdamTask& t : tasks) {
      if (t.f32) run_adam<float>(t, beta1, beta2, eps, weight_decay);
      else run_adam<double>(t, beta1, beta2, eps, weight_decay);
    }
  };
  if (elements >= kReleaseGilElements) {
    py::gil_scoped_release nogil;
    run();
  } else {
    run();
  }
}

}  // namespace

void register_optimizers(py::module_& m) {
  m.def("adam_update", &adam_all, py::arg("params"), py::arg("grads"), py::arg("exp_avgs"), py::arg("exp_avg_sqs"),
        py::arg("step_sizes"), py::arg("bias2_sqrts"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"),
        py::arg("weight_decay"),
        "One Adam step in place for each parameter, in order (lstmfast.training.Adam's rule, each operation "
        "rounded in the parameter's dtype; one call for all of a model's parameters). Every parameter is "
        "checked before any is written.");
}

}  // namespace bind
}  // namespace lstmfast
