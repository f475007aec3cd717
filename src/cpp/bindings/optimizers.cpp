// The optimizers' in-place updates (api.h, isa/optimizers.cpp) for
// lstmfast.training.optim, which checks the hyperparameters; these checks keep
// the module safe when it is called directly.
#include <string>
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

template <class T>
void adam(const py::array& p, const py::array& g, const py::array& m, const py::array& v, double step_size,
          double bias2_sqrt, double beta1, double beta2, double eps, double weight_decay) {
  const std::vector<index_t> shape(p.shape(), p.shape() + p.ndim());
  T* pp = written<T>(p, "param", shape);
  T* pm = written<T>(m, "exp_avg", shape);
  T* pv = written<T>(v, "exp_avg_sq", shape);
  const T* pg = in<T>(g, "grad", shape);
  const Bytes bp = bytes_of(p), bm = bytes_of(m), bv = bytes_of(v), bg = bytes_of(g);
  if (bp.overlaps(bm) || bp.overlaps(bv) || bm.overlaps(bv))
    throw py::value_error("param, exp_avg and exp_avg_sq: expected three arrays that do not share memory");
  std::vector<T> g_copy;  // the gradient read while the others are written: a copy if it shares their memory
  const index_t n = static_cast<index_t>(p.size());
  if (bg.overlaps(bp) || bg.overlaps(bm) || bg.overlaps(bv)) {
    g_copy.assign(pg, pg + n);
    pg = g_copy.data();
  }
  const AdamStep<T> s{T(beta1),     T(1.0 - beta1),  T(beta2), T(1.0 - beta2),
                      T(step_size), T(bias2_sqrt), T(eps),   T(weight_decay)};
  const auto update = typed<T>(active_kernels()).adam_update;
  if (n >= kReleaseGilElements) {
    py::gil_scoped_release nogil;
    update(pp, pg, pm, pv, n, s);
  } else {
    update(pp, pg, pm, pv, n, s);
  }
}

}  // namespace

void register_optimizers(py::module_& m) {
  m.def(
      "adam_update",
      [](const py::array& param, const py::array& grad, const py::array& exp_avg, const py::array& exp_avg_sq,
         double step_size, double bias2_sqrt, double beta1, double beta2, double eps, double weight_decay) {
        if (!is_float32(param) && !is_float64(param))
          throw py::type_error("param: expected dtype float32 or float64, got " + std::string(py::str(param.dtype())));
        auto run = is_float32(param) ? adam<float> : adam<double>;
        run(param, grad, exp_avg, exp_avg_sq, step_size, bias2_sqrt, beta1, beta2, eps, weight_decay);
      },
      py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"), py::arg("step_size"),
      py::arg("bias2_sqrt"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
      "One Adam step in place (lstmfast.training.Adam's rule, each operation rounded in the parameter's dtype).");
}

}  // namespace bind
}  // namespace lstmfast
