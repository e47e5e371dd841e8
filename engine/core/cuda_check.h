// Check macros for the CUDA runtime, cuBLAS and cuDNN. They throw aslnet::Error with file:line, the
// call as text and the library's own message. NCCL_CHECK and MPI_CHECK live in engine/replication/,
// where those optional libraries are confined.
#pragma once

#include <string>

#include "engine/core/error.h"
#include "engine/core/gpu_api.h"

#define CUDA_CHECK(call)                                                                   \
  do {                                                                                     \
    cudaError_t aslnet_status_ = (call);                                                   \
    if (aslnet_status_ != cudaSuccess)                                                     \
      ::aslnet::throw_error(__FILE__, __LINE__, #call,                                     \
                            std::string("CUDA error: ") + cudaGetErrorString(aslnet_status_)); \
  } while (0)

// After every kernel launch: launch-configuration errors surface here, not at the next sync.
#define CUDA_CHECK_LAST() CUDA_CHECK(cudaGetLastError())

#define CUBLAS_CHECK(call)                                                                         \
  do {                                                                                             \
    cublasStatus_t aslnet_status_ = (call);                                                        \
    if (aslnet_status_ != CUBLAS_STATUS_SUCCESS)                                                   \
      ::aslnet::throw_error(__FILE__, __LINE__, #call,                                             \
                            std::string("cuBLAS error: ") + cublasGetStatusString(aslnet_status_)); \
  } while (0)

#define CUDNN_CHECK(call)                                                                         \
  do {                                                                                            \
    cudnnStatus_t aslnet_status_ = (call);                                                        \
    if (aslnet_status_ != CUDNN_STATUS_SUCCESS)                                                   \
      ::aslnet::throw_error(__FILE__, __LINE__, #call,                                            \
                            std::string("cuDNN error: ") + cudnnGetErrorString(aslnet_status_)); \
  } while (0)
