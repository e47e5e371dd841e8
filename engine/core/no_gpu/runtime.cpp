// The CPU-only build's stand-in for the CUDA runtime, cuBLAS and cuDNN (runtime.h says why): every call
// fails, and every error's text is kNoGpuSupport. Compiled only when ASLNET_CUDA is off.
#include "engine/core/no_gpu/runtime.h"

#include "engine/core/build_config.h"

namespace {
constexpr cudaError_t kNoDevice = cudaErrorNoDevice;
constexpr cublasStatus_t kNoCublas = CUBLAS_STATUS_NOT_INITIALIZED;
constexpr cudnnStatus_t kNoCudnn = CUDNN_STATUS_NOT_INITIALIZED;
}  // namespace

const char* cudaGetErrorString(cudaError_t error) { return error == cudaSuccess ? "no error" : aslnet::kNoGpuSupport; }
cudaError_t cudaGetLastError() { return cudaSuccess; }  // nothing is ever left pending
cudaError_t cudaGetDeviceCount(int* count) {
  *count = 0;
  return kNoDevice;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp*, int) { return kNoDevice; }
cudaError_t cudaSetDevice(int) { return kNoDevice; }
cudaError_t cudaDeviceSynchronize() { return kNoDevice; }
cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = 0;
  return kNoDevice;
}
cudaError_t cudaDriverGetVersion(int* version) {
  *version = 0;
  return kNoDevice;
}

cudaError_t cudaMalloc(void** pointer, size_t) {
  *pointer = nullptr;
  return kNoDevice;
}
cudaError_t cudaMallocHost(void** pointer, size_t) {
  *pointer = nullptr;
  return kNoDevice;
}
cudaError_t cudaFree(void*) { return kNoDevice; }
cudaError_t cudaFreeHost(void*) { return kNoDevice; }
cudaError_t cudaMemGetInfo(size_t*, size_t*) { return kNoDevice; }
cudaError_t cudaMemcpy(void*, const void*, size_t, cudaMemcpyKind) { return kNoDevice; }
cudaError_t cudaMemcpyAsync(void*, const void*, size_t, cudaMemcpyKind, cudaStream_t) { return kNoDevice; }
cudaError_t cudaMemset(void*, int, size_t) { return kNoDevice; }
cudaError_t cudaMemsetAsync(void*, int, size_t, cudaStream_t) { return kNoDevice; }

cudaError_t cudaStreamCreateWithFlags(cudaStream_t*, unsigned) { return kNoDevice; }
cudaError_t cudaStreamDestroy(cudaStream_t) { return kNoDevice; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return kNoDevice; }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned) { return kNoDevice; }
cudaError_t cudaEventCreateWithFlags(cudaEvent_t*, unsigned) { return kNoDevice; }
cudaError_t cudaEventDestroy(cudaEvent_t) { return kNoDevice; }
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return kNoDevice; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return kNoDevice; }
cudaError_t cudaEventElapsedTime(float*, cudaEvent_t, cudaEvent_t) { return kNoDevice; }

cudaError_t cudaStreamBeginCapture(cudaStream_t, cudaStreamCaptureMode) { return kNoDevice; }
cudaError_t cudaStreamEndCapture(cudaStream_t, cudaGraph_t* graph) {
  *graph = nullptr;
  return kNoDevice;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t*, cudaGraph_t, unsigned long long) { return kNoDevice; }
cudaError_t cudaGraphDestroy(cudaGraph_t) { return kNoDevice; }
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t) { return kNoDevice; }
cudaError_t cudaGraphLaunch(cudaGraphExec_t, cudaStream_t) { return kNoDevice; }

const char* cublasGetStatusString(cublasStatus_t status) {
  return status == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS" : aslnet::kNoGpuSupport;
}
cublasStatus_t cublasCreate(cublasHandle_t*) { return kNoCublas; }
cublasStatus_t cublasDestroy(cublasHandle_t) { return kNoCublas; }
cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return kNoCublas; }
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return kNoCublas; }
cublasStatus_t cublasGetMathMode(cublasHandle_t, cublasMath_t*) { return kNoCublas; }
cublasStatus_t cublasGetVersion(cublasHandle_t, int*) { return kNoCublas; }
cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                            const void*, cudaDataType_t, int, const void*, cudaDataType_t, int, const void*, void*,
                            cudaDataType_t, int, cublasComputeType_t, cublasGemmAlgo_t) {
  return kNoCublas;
}

const char* cudnnGetErrorString(cudnnStatus_t status) {
  return status == CUDNN_STATUS_SUCCESS ? "CUDNN_STATUS_SUCCESS" : aslnet::kNoGpuSupport;
}
size_t cudnnGetVersion() { return 0; }
cudnnStatus_t cudnnCreate(cudnnHandle_t*) { return kNoCudnn; }
cudnnStatus_t cudnnDestroy(cudnnHandle_t) { return kNoCudnn; }
cudnnStatus_t cudnnSetStream(cudnnHandle_t, cudaStream_t) { return kNoCudnn; }
