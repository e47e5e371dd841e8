#include "engine/core/cuda_handles.h"

#include <string>

#include "engine/core/cuda_check.h"

namespace aslnet {

void DestroyStream::operator()(cudaStream_t s) const {
  if (cudaStreamDestroy(s) != cudaSuccess) ASLNET_LOG_ERROR("cudaStreamDestroy failed");
}
void DestroyEvent::operator()(cudaEvent_t e) const {
  if (cudaEventDestroy(e) != cudaSuccess) ASLNET_LOG_ERROR("cudaEventDestroy failed");
}
void DestroyCublas::operator()(cublasHandle_t h) const {
  if (cublasDestroy(h) != CUBLAS_STATUS_SUCCESS) ASLNET_LOG_ERROR("cublasDestroy failed");
}
void DestroyCudnn::operator()(cudnnHandle_t h) const {
  if (cudnnDestroy(h) != CUDNN_STATUS_SUCCESS) ASLNET_LOG_ERROR("cudnnDestroy failed");
}

Stream make_stream() {
  cudaStream_t s{};
  CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return Stream(s);
}

Event make_event(bool timing) {
  cudaEvent_t e{};
  CUDA_CHECK(cudaEventCreateWithFlags(&e, timing ? cudaEventDefault : cudaEventDisableTiming));
  return Event(e);
}

CublasHandle make_cublas(cudaStream_t stream) {
  cublasHandle_t h{};
  CUBLAS_CHECK(cublasCreate(&h));
  CublasHandle owned(h);
  CUBLAS_CHECK(cublasSetStream(h, stream));
  return owned;
}

CudnnHandle make_cudnn(cudaStream_t stream) {
  cudnnHandle_t h{};
  CUDNN_CHECK(cudnnCreate(&h));
  CudnnHandle owned(h);
  CUDNN_CHECK(cudnnSetStream(h, stream));
  return owned;
}

}  // namespace aslnet
