// Move-only owners of CUDA streams, events, and cuBLAS / cuDNN handles. Destructors log failures
// instead of throwing (a destructor may run while an exception is already in flight).
#pragma once

#include <utility>

#include "engine/core/gpu_api.h"

namespace aslnet {

template <class Handle, class Destroy>
class UniqueHandle {
 public:
  UniqueHandle() = default;
  explicit UniqueHandle(Handle h) : handle_(h) {}
  UniqueHandle(UniqueHandle&& o) noexcept : handle_(std::exchange(o.handle_, Handle{})) {}
  UniqueHandle& operator=(UniqueHandle&& o) noexcept {
    if (this != &o) {
      reset();
      handle_ = std::exchange(o.handle_, Handle{});
    }
    return *this;
  }
  UniqueHandle(const UniqueHandle&) = delete;
  UniqueHandle& operator=(const UniqueHandle&) = delete;
  ~UniqueHandle() { reset(); }

  Handle get() const { return handle_; }
  explicit operator bool() const { return handle_ != Handle{}; }
  void reset() {
    if (handle_ != Handle{}) Destroy{}(handle_);
    handle_ = Handle{};
  }

 private:
  Handle handle_{};
};

struct DestroyStream { void operator()(cudaStream_t s) const; };
struct DestroyEvent { void operator()(cudaEvent_t e) const; };
struct DestroyCublas { void operator()(cublasHandle_t h) const; };
struct DestroyCudnn { void operator()(cudnnHandle_t h) const; };

using Stream = UniqueHandle<cudaStream_t, DestroyStream>;
using Event = UniqueHandle<cudaEvent_t, DestroyEvent>;
using CublasHandle = UniqueHandle<cublasHandle_t, DestroyCublas>;
using CudnnHandle = UniqueHandle<cudnnHandle_t, DestroyCudnn>;

Stream make_stream();                      // non-blocking with respect to the legacy default stream
Event make_event(bool timing = false);     // timing off by default: cheaper to record and wait on
CublasHandle make_cublas(cudaStream_t stream);
CudnnHandle make_cudnn(cudaStream_t stream);

}  // namespace aslnet
