// NumPy buffer checks and allocation for the bindings. The Python layer
// (lstmfast/_validation.py) gives the friendly errors; these checks keep the
// compiled module safe when called directly.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "../api.h"
#include "../memory.h"

namespace lstmfast {
namespace bind {

namespace py = pybind11;

inline std::string shape_str(const std::vector<index_t>& s) {
  std::string r = "(";
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + (s.size() == 1 ? ",)" : ")");
}

// Checks a C-contiguous array of dtype T and exactly `shape`.
template <class T>
const T* in(const py::array& a, const char* name, std::vector<index_t> shape) {
  // By value: NumPy does not keep dtypes as singletons (an unpickled or
  // memory-mapped array has a dtype object of its own).
  if (!a.dtype().equal(py::dtype::of<T>()))
    throw py::type_error(std::string(name) + ": expected dtype " + std::string(py::str(py::dtype::of<T>())) +
                         ", got " + std::string(py::str(a.dtype())));
  std::vector<index_t> got(a.shape(), a.shape() + a.ndim());
  if (got != shape)
    throw py::value_error(std::string(name) + ": expected shape " + shape_str(shape) + ", got " + shape_str(got));
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(name) + ": expected a C-contiguous array");
  // A NumPy array can sit at any byte offset (a view into bytes, a record
  // field); the kernels read whole elements, which must be aligned.
  if (!(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    throw py::value_error(std::string(name) + ": expected an aligned array");
  return static_cast<const T*>(a.data());
}

// Optional argument: nullptr for None.
template <class T>
const T* in_opt(const py::object& o, const char* name, std::vector<index_t> shape) {
  if (o.is_none()) return nullptr;
  if (!py::isinstance<py::array>(o)) throw py::type_error(std::string(name) + ": expected a numpy array or None");
  return in<T>(py::reinterpret_borrow<py::array>(o), name, std::move(shape));
}

// A new C-contiguous array for an output, from `aligned_from` bytes up
// starting on a kAlignment (64-byte) boundary, as the kernels' scratch: a
// view into a block a line longer. NumPy's allocator gives 16 bytes, so
// where a row began within its line depended on the process's heap, and two
// threads that split a row at a multiple of 16 floats shared a line in some
// processes and not in others. Measured on Zen 4, LSTM forward with the
// tape at the forecast epoch's batch (T=30, B=32, I=1, H=64), 2 threads:
// 263-267 us aligned against 340-350 in the processes that shared lines.
// The forward's small outputs (a streaming step's state) stay NumPy's own:
// the view is a second object per output. The backward's are all aligned:
// its threads add to db and carry dc row after row.
constexpr std::size_t kAlignedFrom = 4096;
template <class T>
py::array_t<T> out(std::vector<index_t> shape, std::size_t aligned_from = kAlignedFrom) {
  const std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  py::ssize_t n = 1;
  for (py::ssize_t d : dims) n *= d;
  if (static_cast<std::size_t>(n) * sizeof(T) < aligned_from) return py::array_t<T>(dims);
  py::array_t<T> block(n + static_cast<py::ssize_t>(kAlignment / sizeof(T)));
  char* p = reinterpret_cast<char*>(block.mutable_data());
  // NumPy's data is aligned to T at least, so the skip is whole elements.
  const std::size_t skip = (kAlignment - reinterpret_cast<std::uintptr_t>(p) % kAlignment) % kAlignment;
  return py::array_t<T>(dims, reinterpret_cast<T*>(p + skip), block);
}

template <class T>
T* ptr(py::array_t<T>& a) {
  return a.mutable_data();
}

template <class T>
void copy_n(T* dst, const T* src, index_t n) {
  if (n > 0) std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(T));
}

inline void freeze(py::array& a) {
  py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
}

// Read-only view of a tape buffer that keeps its owner alive.
inline py::array read_only_view(const py::array& a, const py::object& owner) {
  py::array v(a.dtype(), std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()),
              std::vector<py::ssize_t>(a.strides(), a.strides() + a.ndim()), a.data(), owner);
  freeze(v);
  return v;
}

// Optional sequence lengths: None, or a C-contiguous int64 array (B,) with
// every value in [0, T] (0: a sequence with no step; its final state is its
// initial state). Copied, then checked: the kernels index with them
// while the GIL is released, when another Python thread could change the
// caller's array (or a tape's, made writeable again).
class Lengths {
 public:
  Lengths(const py::object& o, index_t T, index_t B) {
    if (o.is_none()) return;
    if (!py::isinstance<py::array>(o)) throw py::type_error("lengths: expected an int64 numpy array or None");
    const index_t* p = in<index_t>(py::reinterpret_borrow<py::array>(o), "lengths", {B});
    values_.assign(p, p + B);
    for (index_t b = 0; b < B; ++b)
      if (values_[b] < 0 || values_[b] > T)
        throw py::value_error("lengths: every length must be in [0, T] = [0, " + std::to_string(T) + "], got " +
                              std::to_string(values_[b]) + " at index " + std::to_string(b));
    given_ = true;
  }
  const index_t* data() const { return given_ ? values_.data() : nullptr; }
  // A read-only copy for a tape (None stays None).
  py::object copy() const {
    if (!given_) return py::none();
    py::array_t<index_t> c(static_cast<py::ssize_t>(values_.size()));
    copy_n(c.mutable_data(), values_.data(), static_cast<index_t>(values_.size()));
    freeze(c);
    return std::move(c);
  }

 private:
  std::vector<index_t> values_;
  bool given_ = false;
};

// Zeroes the rows past each sequence's end of a (T, B, cols) array: a tape's
// private x (so that NaN or garbage padding in the caller's x cannot turn the
// weight gradients' 0 * padding into NaN) and its gates (never written there).
template <class T>
void zero_padded_rows(T* a, index_t T_, index_t B, index_t cols, const index_t* lengths) {
  if (!lengths) return;
  for (index_t b = 0; b < B; ++b)
    for (index_t t = lengths[b]; t < T_; ++t) std::memset(a + (t * B + b) * cols, 0, sizeof(T) * std::size_t(cols));
}

// b_ih + b_hh as the one bias of the input projection (empty if neither is
// given); only the first hh_cols columns of b_hh go in (the GRU keeps the
// rest apart).
template <class T>
std::vector<T> summed_bias(const T* b_ih, const T* b_hh, index_t n, index_t hh_cols) {
  std::vector<T> bias;
  if (!b_ih && !b_hh) return bias;
  bias.assign(static_cast<std::size_t>(n), T(0));
  for (index_t j = 0; j < n; ++j) bias[j] = (b_ih ? b_ih[j] : T(0)) + (b_hh && j < hh_cols ? b_hh[j] : T(0));
  return bias;
}

// A tape's private copies of x and the weights (G = gate rows): allocated with
// the GIL, filled by fill() without it.
template <class T>
struct TapeInputs {
  py::array x, w_ih, w_hh;
  T *x_data, *w_ih_data, *w_hh_data;
  TapeInputs(const Dims& d, index_t G)
      : x(out<T>({d.T, d.B, d.I})),
        w_ih(out<T>({G, d.I})),
        w_hh(out<T>({G, d.H})),
        x_data(static_cast<T*>(x.mutable_data())),
        w_ih_data(static_cast<T*>(w_ih.mutable_data())),
        w_hh_data(static_cast<T*>(w_hh.mutable_data())) {}
  void fill(const T* px, const T* pw_ih, const T* pw_hh) const {
    copy_n(x_data, px, x.size());
    copy_n(w_ih_data, pw_ih, w_ih.size());
    copy_n(w_hh_data, pw_hh, w_hh.size());
  }
};

inline bool is_float32(const py::array& a) { return a.dtype().equal(py::dtype::of<float>()); }
inline bool is_float64(const py::array& a) { return a.dtype().equal(py::dtype::of<double>()); }

inline void require_float(const py::array& x) {
  if (!is_float32(x) && !is_float64(x))
    throw py::type_error("x: expected dtype float32 or float64, got " + std::string(py::str(x.dtype())));
}

inline index_t dim(const py::array& a, int i) { return static_cast<index_t>(a.shape(i)); }

inline void require_ndim(const py::array& a, const char* name, int ndim, const char* what) {
  if (a.ndim() != ndim)
    throw py::value_error(std::string(name) + ": expected a " + std::to_string(ndim) + "-D array " + what +
                          ", got " + std::to_string(a.ndim()) + "-D");
}

}  // namespace bind
}  // namespace lstmfast
