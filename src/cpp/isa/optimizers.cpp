// The optimizers' updates of one instruction set (see parts.h). Compiled
// without FMA contraction (CMakeLists.txt), unlike the other parts, so that
// each operation is rounded in T exactly as the NumPy expressions of
// lstmfast.training.optim's docstrings round it.
#include <cmath>
#include <type_traits>

#include "parts.h"

namespace lstmfast {
namespace LSTMFAST_ISA {
namespace {

template <class T>
void adam_update(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, index_t n,
                 const AdamStep<T>& s) {
  const T beta1 = s.beta1, one_minus_beta1 = s.one_minus_beta1, beta2 = s.beta2, one_minus_beta2 = s.one_minus_beta2;
  const T step_size = s.step_size, bias2_sqrt = s.bias2_sqrt, eps = s.eps, weight_decay = s.weight_decay;
  auto pass = [&](auto decay) {
    for (index_t i = 0; i < n; ++i) {
      const T gi = decltype(decay)::value ? g[i] + weight_decay * p[i] : g[i];
      const T mi = beta1 * m[i] + one_minus_beta1 * gi;
      const T vi = beta2 * v[i] + one_minus_beta2 * (gi * gi);
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i] - step_size * (mi / (std::sqrt(vi) / bias2_sqrt + eps));
    }
  };
  if (weight_decay != T(0)) pass(std::true_type{});
  else pass(std::false_type{});
}

}  // namespace

template <class T>
void fill_optimizers(TypedKernels<T>& k) {
  k.adam_update = adam_update<T>;
}
LSTMFAST_FILL_ENTRIES(fill_optimizers)

}  // namespace LSTMFAST_ISA
}  // namespace lstmfast
