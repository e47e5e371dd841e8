#include "engine/core/tensor.h"

#include <cstring>
#include <sstream>

#include "engine/core/cuda_check.h"
#include "engine/core/gpu_api.h"

namespace aslnet {

Shape::Shape(std::initializer_list<int64_t> dims) {
  ASLNET_CHECK(dims.size() <= size_t(kMaxRank)) << "tensors have at most " << kMaxRank << " dimensions";
  for (int64_t d : dims) {
    ASLNET_CHECK(d >= 0) << "negative dimension " << d;
    dims_[rank_++] = d;
  }
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[i];
  return n;
}

std::string Shape::str() const {
  std::ostringstream out;
  out << "[";
  for (int i = 0; i < rank_; ++i) out << (i ? ", " : "") << dims_[i];
  out << "]";
  return out.str();
}

bool Shape::operator==(const Shape& other) const {
  if (rank_ != other.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != other.dims_[i]) return false;
  return true;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  Tensor t;
  const size_t bytes = size_t(shape.numel()) * dtype_size(dtype);
  t.storage_ = std::make_shared<Buffer>(device.is_cpu() ? Buffer::host(bytes) : Buffer::device(bytes, device.index));
  t.data_ = t.storage_->data();
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = device;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_zero();
  return t;
}

Tensor Tensor::view(void* data, const Shape& shape, DType dtype, Device device) {
  Tensor t;
  t.data_ = data;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = device;
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const {
  ASLNET_CHECK(shape.numel() == numel()) << "cannot reshape " << shape_.str() << " to " << shape.str();
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::slice(int64_t begin, const Shape& shape) const {
  ASLNET_CHECK(begin >= 0 && begin + shape.numel() <= numel())
      << "slice [" << begin << ", " << begin + shape.numel() << ") outside a tensor of " << numel() << " elements";
  Tensor t = *this;
  t.data_ = static_cast<char*>(data_) + size_t(begin) * dtype_size(dtype_);
  t.shape_ = shape;
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  ASLNET_CHECK(src.dtype_ == dtype_ && src.numel() == numel())
      << "copy of " << dtype_name(src.dtype_) << src.shape_.str() << " into " << dtype_name(dtype_) << shape_.str();
  if (bytes() == 0) return;
  if (device_.is_cpu() && src.device_.is_cpu()) {
    std::memcpy(data_, src.data_, bytes());
  } else {
    // The engine's streams do not synchronise with the legacy default stream that cudaMemcpy uses, so
    // "synchronous" is made true by hand: every kernel queued before sees its data, and the copy has
    // landed before anything queued after it runs. Copies between devices are for set-up, checkpoints
    // and tests, never inside a step.
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaMemcpy(data_, src.data_, bytes(), cudaMemcpyDefault));
    CUDA_CHECK(cudaDeviceSynchronize());
  }
}

Tensor Tensor::to(Device device) const {
  Tensor t = empty(shape_, dtype_, device);
  t.copy_from(*this);
  return t;
}

void Tensor::fill_zero() {
  if (bytes() == 0) return;
  if (device_.is_cpu()) {
    std::memset(data_, 0, bytes());
  } else {
    CUDA_CHECK(cudaSetDevice(device_.index));
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaMemset(data_, 0, bytes()));
    CUDA_CHECK(cudaDeviceSynchronize());
  }
}

Tensor host_float_copy(const Tensor& t) {
  const Tensor host = t.device().is_cpu() ? t : t.to(Device::cpu());
  if (host.dtype() != DType::BF16) return host;
  Tensor wide = Tensor::empty(host.shape(), DType::F32);
  for (int64_t i = 0; i < host.numel(); ++i) wide.data<float>()[i] = from_bf16(host.data<bf16>()[i]);
  return wide;
}

}  // namespace aslnet
