#include "engine/core/buffer.h"

#include <cstdlib>
#include <new>
#include <string>
#include <utility>

#include "engine/core/cuda_check.h"
#include "engine/core/gpu_api.h"

namespace aslnet {

Buffer Buffer::host(size_t bytes) {
  Buffer b;
  b.kind_ = Kind::Host;
  b.bytes_ = bytes;
  if (bytes > 0) {
    const size_t rounded = (bytes + 63) / 64 * 64;  // aligned_alloc wants a multiple of the alignment
    b.data_ = std::aligned_alloc(64, rounded);
    if (b.data_ == nullptr)
      throw_out_of_memory(__FILE__, __LINE__, "out of host memory allocating " + std::to_string(bytes) + " bytes");
  }
  return b;
}

Buffer Buffer::pinned(size_t bytes) {
  Buffer b;
  b.kind_ = Kind::Pinned;
  b.bytes_ = bytes;
  if (bytes > 0) CUDA_CHECK(cudaMallocHost(&b.data_, bytes));
  return b;
}

Buffer Buffer::device(size_t bytes, int gpu) {
  Buffer b;
  b.kind_ = Kind::Device;
  b.bytes_ = bytes;
  b.gpu_ = gpu;
  if (bytes > 0) {
    CUDA_CHECK(cudaSetDevice(gpu));
    const cudaError_t status = cudaMalloc(&b.data_, bytes);
    if (status == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      throw_out_of_device_memory(__FILE__, __LINE__,
                                 "out of GPU memory on cuda:" + std::to_string(gpu) + " allocating " +
                                     std::to_string(bytes) + " bytes (hint: a smaller --batch)");
    }
    CUDA_CHECK(status);
  }
  return b;
}

Buffer::Buffer(Buffer&& other) noexcept { *this = std::move(other); }

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    kind_ = other.kind_;
    gpu_ = other.gpu_;
  }
  return *this;
}

Buffer::~Buffer() { release(); }

void Buffer::release() noexcept {
  if (data_ == nullptr) return;
  cudaError_t status = cudaSuccess;
  switch (kind_) {
    case Kind::Host: std::free(data_); break;
    case Kind::Pinned: status = cudaFreeHost(data_); break;
    case Kind::Device: status = cudaFree(data_); break;
  }
  if (status != cudaSuccess) ASLNET_LOG_ERROR(std::string("freeing a buffer: ") + cudaGetErrorString(status));
  data_ = nullptr;
  bytes_ = 0;
}

}  // namespace aslnet
