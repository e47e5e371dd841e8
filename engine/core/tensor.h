// Tensor: a typed, shaped window onto memory on one device. Activations are NHWC, 4-D at most; a
// parameter is a view into a flat arena. A tensor either shares ownership of a Buffer (empty/zeros)
// or views memory owned elsewhere (view), so views into arenas cost nothing and never dangle longer
// than their arena's owner lets them.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

#include "engine/core/buffer.h"
#include "engine/core/device.h"
#include "engine/core/dtype.h"
#include "engine/core/error.h"

namespace aslnet {

class Shape {
 public:
  static constexpr int kMaxRank = 4;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);

  int rank() const { return rank_; }
  int64_t operator[](int i) const { return dims_[i]; }
  int64_t& operator[](int i) { return dims_[i]; }
  int64_t numel() const;
  std::string str() const;  // "[4, 64, 64, 3]"
  bool operator==(const Shape& other) const;

  // NHWC accessors for 4-D activations.
  int64_t n() const { return dims_[0]; }
  int64_t h() const { return dims_[1]; }
  int64_t w() const { return dims_[2]; }
  int64_t c() const { return dims_[3]; }

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

class Tensor {
 public:
  Tensor() = default;
  static Tensor empty(const Shape& shape, DType dtype, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype, Device device = Device::cpu());
  // A non-owning view: the caller keeps `data` alive for as long as the view is used.
  static Tensor view(void* data, const Shape& shape, DType dtype, Device device = Device::cpu());

  // False for a default-constructed tensor (and for one of zero elements, which owns no memory).
  bool defined() const { return data_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int64_t numel() const { return shape_.numel(); }
  size_t bytes() const { return size_t(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }

  void* raw() const { return data_; }
  template <class T>
  T* data() const {
    ASLNET_CHECK(dtype_of<T>() == dtype_) << "tensor is " << dtype_name(dtype_) << ", accessed as "
                                          << dtype_name(dtype_of<T>());
    return static_cast<T*>(data_);
  }

  // Same memory, another shape of the same element count.
  Tensor reshape(const Shape& shape) const;
  // Elements [begin, begin + shape.numel()) of this tensor's memory, seen with `shape`.
  Tensor slice(int64_t begin, const Shape& shape) const;

  // Copies (any device to any device; synchronous). Shapes must hold the same number of elements.
  void copy_from(const Tensor& src);
  Tensor to(Device device) const;
  Tensor clone() const { return to(device_); }
  void fill_zero();

 private:
  std::shared_ptr<Buffer> storage_;
  void* data_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::F32;
  Device device_;
};

// A host copy that the CPU kernels can read: f32 and f64 as they are, bf16 widened to f32.
Tensor host_float_copy(const Tensor& t);

}  // namespace aslnet
