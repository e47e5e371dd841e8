// Fully connected layer on cuBLAS, plus the two small kernels cuBLAS has no call for: broadcasting the
// bias into the output before the product, and the bias gradient (column sums of dy).
//
// Row-major on a column-major library: a row-major C[m, n] is, byte for byte, the column-major C^T[n, m],
// and C^T = op(B)^T . op(A)^T, so every product is issued with its operands (and their shapes) swapped.
//
// Precision. fp32: compute type CUBLAS_COMPUTE_32F and the handle's math mode decides (the Context puts
// it in CUBLAS_PEDANTIC_MATH, strict fp32 that matches the CPU to 1e-5, or CUBLAS_TF32_TENSOR_OP_MATH).
// bf16: products of bf16 numbers are exact in fp32 and the tensor cores accumulate in fp32, so TF32 and
// pedantic modes mean nothing for them; but a handle in CUBLAS_PEDANTIC_MATH forces the pedantic compute
// type, which for bf16 inputs runs on the slow non-tensor-core path (cuBLAS documents pedantic math as
// "prescribed precision and standardized arithmetic ... for numerical robustness studies, testing, and
// debugging"). So bf16 products run with the handle switched to CUBLAS_DEFAULT_MATH for the call and put
// back afterwards (a host-side setting: no synchronisation, and safe under stream capture), whatever mode
// the Context chose. The handle is the caller's and used from one host thread at a time.
#include <cuda_bf16.h>

#include <algorithm>
#include <climits>
#include <type_traits>

#include "engine/core/cuda_check.h"
#include "engine/core/dtype.h"
#include "kernels/cuda/device_values.cuh"
#include "kernels/linear.h"

namespace aslnet::kernels::cuda {

namespace {

// cuBLAS's name for each element type (the device types and element access: device_values.cuh).
template <class T>
constexpr cudaDataType_t kCublasType = CUDA_R_32F;
template <>
constexpr cudaDataType_t kCublasType<bf16> = CUDA_R_16BF;

// Switches the handle to CUBLAS_DEFAULT_MATH for one bf16 product (see the top of the file) and puts
// the caller's mode back, also when the product throws.
class DefaultMathScope {
 public:
  explicit DefaultMathScope(cublasHandle_t handle) : handle_(handle) {
    CUBLAS_CHECK(cublasGetMathMode(handle_, &saved_));
    if (saved_ != CUBLAS_DEFAULT_MATH) CUBLAS_CHECK(cublasSetMathMode(handle_, CUBLAS_DEFAULT_MATH));
  }
  ~DefaultMathScope() {
    // A destructor does not throw: a failure to restore would only change speed, never results of bf16.
    if (saved_ != CUBLAS_DEFAULT_MATH) (void)cublasSetMathMode(handle_, saved_);
  }
  DefaultMathScope(const DefaultMathScope&) = delete;
  DefaultMathScope& operator=(const DefaultMathScope&) = delete;

 private:
  cublasHandle_t handle_;
  cublasMath_t saved_ = CUBLAS_DEFAULT_MATH;
};

int as_int(int64_t v, const char* what) {
  ASLNET_CHECK(v >= 0 && v <= INT_MAX) << "cuBLAS gemm: " << what << " = " << v << " does not fit in an int";
  return int(v);
}

constexpr int kThreads = 256;

unsigned blocks_for(int64_t count) {
  return unsigned(std::clamp<int64_t>((count + kThreads - 1) / kThreads, 1, 65535));
}

// y[i, j] = b[j]: the product then adds x . w^T onto it (beta = 1), one rounding for bf16 outputs.
template <class D>
__global__ void broadcast_bias_kernel(int64_t batch, int64_t out, const D* b, D* y) {
  const int64_t count = batch * out;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < count; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = b[i % out];
}

// db[j] = sum_i dy[i, j] (+ db[j] with accumulate). A block owns kCols adjacent columns (threadIdx.x, so
// a warp reads one contiguous piece of a row) and kRows row lanes (threadIdx.y): lane y sums the rows
// y, y + kRows, ... in order, then the lanes combine in a fixed tree. No atomics: the same input gives
// the same bits on every run.
constexpr int kCols = 32;
constexpr int kRows = 8;

template <class D>
__global__ void bias_grad_kernel(int64_t batch, int64_t out, const D* dy, D* db, bool accumulate) {
  __shared__ float partial[kRows][kCols];
  const int64_t j = blockIdx.x * int64_t(kCols) + threadIdx.x;
  float sum = 0.0f;
  if (j < out)
    for (int64_t i = threadIdx.y; i < batch; i += kRows) sum += to_f(dy[i * out + j]);
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  for (int stride = kRows / 2; stride > 0; stride /= 2) {
    if (threadIdx.y < stride) partial[threadIdx.y][threadIdx.x] += partial[threadIdx.y + stride][threadIdx.x];
    __syncthreads();
  }
  if (threadIdx.y == 0 && j < out) {
    const float total = partial[0][threadIdx.x];
    db[j] = from_f<D>(accumulate ? to_f(db[j]) + total : total);
  }
}

}  // namespace

template <class T>
void gemm(cublasHandle_t handle, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, float beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  constexpr cudaDataType_t type = kCublasType<T>;
  auto call = [&] {
    // Column-major view: C^T[n, m] = op(B)^T[n, k] . op(A)^T[k, m]. A row-major matrix is its own transpose
    // in column-major, so "not transposed" here stays CUBLAS_OP_N on the swapped operand.
    CUBLAS_CHECK(cublasGemmEx(handle, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                              as_int(n, "n"), as_int(m, "m"), as_int(k, "k"), &alpha, b, type, as_int(ldb, "ldb"), a,
                              type, as_int(lda, "lda"), &beta, c, type, as_int(ldc, "ldc"), CUBLAS_COMPUTE_32F,
                              CUBLAS_GEMM_DEFAULT));
  };
  if constexpr (std::is_same_v<T, bf16>) {
    DefaultMathScope scope(handle);
    call();
  } else {
    call();
  }
}

template <class T>
void linear_forward(cublasHandle_t handle, int64_t batch, int64_t in, int64_t out, const T* x, const T* w, const T* b,
                    T* y) {
  if (batch == 0 || out == 0) return;
  cudaStream_t stream = nullptr;
  CUBLAS_CHECK(cublasGetStream(handle, &stream));
  broadcast_bias_kernel<<<blocks_for(batch * out), kThreads, 0, stream>>>(batch, out, dev(b), dev(y));
  CUDA_CHECK_LAST();
  gemm<T>(handle, false, true, batch, out, in, 1.0f, x, in, w, in, 1.0f, y, out);
}

template <class T>
void linear_backward(cublasHandle_t handle, int64_t batch, int64_t in, int64_t out, const T* x, const T* w,
                     const T* dy, T* dx, T* dw, T* db, bool accumulate) {
  // dx[batch, in] = dy . w; beta = 0, so cuBLAS never reads dx (BLAS: C need not be valid when beta is 0).
  if (dx != nullptr) gemm<T>(handle, false, false, batch, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
  // dw[out, in] = dy^T . x, added to the old value with accumulate (beta = 1). With batch == 0 cuBLAS
  // just scales dw by beta.
  gemm<T>(handle, true, false, out, in, batch, 1.0f, dy, out, x, in, accumulate ? 1.0f : 0.0f, dw, in);
  if (out == 0) return;
  cudaStream_t stream = nullptr;
  CUBLAS_CHECK(cublasGetStream(handle, &stream));
  const unsigned blocks = unsigned((out + kCols - 1) / kCols);  // grid.x allows 2^31 - 1 blocks
  bias_grad_kernel<<<blocks, dim3(kCols, kRows), 0, stream>>>(batch, out, dev(dy), dev(db), accumulate);
  CUDA_CHECK_LAST();
}

template void gemm<float>(cublasHandle_t, bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                          const float*, int64_t, float, float*, int64_t);
template void gemm<bf16>(cublasHandle_t, bool, bool, int64_t, int64_t, int64_t, float, const bf16*, int64_t,
                         const bf16*, int64_t, float, bf16*, int64_t);
template void linear_forward<float>(cublasHandle_t, int64_t, int64_t, int64_t, const float*, const float*,
                                    const float*, float*);
template void linear_forward<bf16>(cublasHandle_t, int64_t, int64_t, int64_t, const bf16*, const bf16*, const bf16*,
                                   bf16*);
template void linear_backward<float>(cublasHandle_t, int64_t, int64_t, int64_t, const float*, const float*,
                                     const float*, float*, float*, float*, bool);
template void linear_backward<bf16>(cublasHandle_t, int64_t, int64_t, int64_t, const bf16*, const bf16*, const bf16*,
                                    bf16*, bf16*, bf16*, bool);

}  // namespace aslnet::kernels::cuda
