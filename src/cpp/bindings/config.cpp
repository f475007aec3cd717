// Build and run-time configuration: instruction sets, threads, compiler;
// plus the elementwise kernels and GEMM, exposed for tests and benchmarks.
#include <pybind11/stl.h>

#include <string>

#include "../dispatch.h"
#include "../memory.h"
#include "../threads.h"
#include "arrays.h"
#include "bindings.h"

namespace lstmfast {
namespace bind {
namespace {

// As LSTMFAST_NUM_THREADS: more is a typo, and would start that many threads.
constexpr int kMaxThreads = 1024;

std::string compiler() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
  return "msvc " + std::to_string(_MSC_VER);
#else
  return "unknown";
#endif
}

template <class T, class F>
py::array elementwise(const py::array& x, F pick) {
  const T* px = in<T>(x, "x", std::vector<index_t>(x.shape(), x.shape() + x.ndim()));
  py::array_t<T> y(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
  T* py_ = y.mutable_data();
  const index_t n = static_cast<index_t>(x.size());
  const auto fn = pick(typed<T>(active_kernels()));
  {
    py::gil_scoped_release nogil;
    fn(px, py_, n);
  }
  return y;
}

template <class T>
py::array matmul(const py::array& a, const py::array& b) {
  require_ndim(a, "a", 2, "(M, K)");
  require_ndim(b, "b", 2, "(K, N)");
  const index_t M = dim(a, 0), K = dim(a, 1), N = dim(b, 1);
  const T* pa = in<T>(a, "a", {M, K});
  const T* pb = in<T>(b, "b", {K, N});
  auto c = out<T>({M, N});
  GemmArgs<T> g{M, N, K, pa, K, 1, pb, N, 1, ptr(c), N, nullptr, false};
  {
    py::gil_scoped_release nogil;
    typed<T>(active_kernels()).gemm(g);
  }
  return c;
}

}  // namespace

void register_config(py::module_& m) {
  m.def("isa", [] { return std::string(active_kernels().isa); }, "Instruction set of the kernels in use.");
  m.def("vector_bytes", [] { return active_kernels().vector_bytes; });
  m.def(
      "float64_isa", [] { return std::string(active_kernels().f64_isa); },
      "Instruction set of the float64 kernels in use (avx2's where the float32 ones are avx512).");
  m.def("set_isa", &select_isa, py::arg("name"), "Use another compiled instruction set (tests, benchmarks).");
  m.def("compiled_isas", &compiled_isas);
  m.def(
      "bfloat16_products", [] { return active_kernels().bf16 != nullptr; },
      "Whether precision='bfloat16' runs bfloat16 products here (AVX512_BF16 with the avx512 kernels); else\n"
      "it runs the float32 kernels.");
  m.def("usable_isas", &usable_isas);
  m.def("get_num_threads", &num_threads);
  m.def("loops_alone", &loops_alone, "Time loops finished on one thread because the cores were busy.");
  m.def(
      "set_num_threads",
      [](int n) {
        if (n < 1 || n > kMaxThreads) throw py::value_error("n: expected 1 <= n <= 1024, got " + std::to_string(n));
        set_num_threads(n);
      },
      py::arg("n"));
  m.def(
      "set_thread_cap",
      [](int n) {
        if (n < 0 || n > kMaxThreads) throw py::value_error("n: expected 0 <= n <= 1024, got " + std::to_string(n));
        set_thread_cap(n);
      },
      py::arg("n"), "Cap the threads of kernel calls made from the calling thread (0: no cap).");
  m.def(
      "use_openmp_threads",
      [](int n) {
        if (n < 0 || n > kMaxThreads) throw py::value_error("n: expected 0 <= n <= 1024, got " + std::to_string(n));
        return use_openmp_threads(n);
      },
      py::arg("n"),
      "Run kernel calls made from the calling thread on the OpenMP runtime already loaded in the process "
      "(torch's threads), at most n of them; 0: lstmfast's own pool. False if no OpenMP runtime is loaded.");
  m.def("default_num_threads", &default_num_threads);
  m.def("compiler", &compiler);
  m.def("release_memory", &release_cached_memory, "Return the kernels' cached scratch memory to the system.");
  m.def("cached_memory_bytes", &cached_memory_bytes);
  m.def("sigmoid", [](const py::array& x) {
    require_float(x);
    auto pick = [](const auto& k) { return k.sigmoid; };
    return is_float32(x) ? elementwise<float>(x, pick) : elementwise<double>(x, pick);
  });
  m.def("tanh", [](const py::array& x) {
    require_float(x);
    auto pick = [](const auto& k) { return k.tanh; };
    return is_float32(x) ? elementwise<float>(x, pick) : elementwise<double>(x, pick);
  });
  m.def("matmul", [](const py::array& a, const py::array& b) {
    require_float(a);
    if (!a.dtype().equal(b.dtype())) throw py::type_error("a and b must share a dtype");
    return is_float32(a) ? matmul<float>(a, b) : matmul<double>(a, b);
  });
}

}  // namespace bind
}  // namespace lstmfast
