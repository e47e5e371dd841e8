// Move-only owners of raw memory: aligned host memory, page-locked (pinned) host memory, and device
// memory. Every allocation in the engine goes through one of these, so nothing is freed twice or
// leaked, and no cudaFree appears anywhere else.
#pragma once

#include <cstddef>

#include "engine/core/device.h"

namespace aslnet {

class Buffer {
 public:
  enum class Kind { Host, Pinned, Device };

  Buffer() = default;
  static Buffer host(size_t bytes);             // 64-byte aligned (a cache line, an AVX-512 vector)
  static Buffer pinned(size_t bytes);           // page-locked: async copies to a GPU
  static Buffer device(size_t bytes, int gpu);  // cudaMalloc on that GPU

  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer();

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Kind kind() const { return kind_; }
  Device where() const { return kind_ == Kind::Device ? Device::cuda(gpu_) : Device::cpu(); }

 private:
  void release() noexcept;

  void* data_ = nullptr;
  size_t bytes_ = 0;
  Kind kind_ = Kind::Host;
  int gpu_ = 0;
};

}  // namespace aslnet
