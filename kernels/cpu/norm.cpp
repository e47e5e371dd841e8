// CPU batch norm over NHWC rows. Sums are accumulated in double whatever T is: a channel can have
// hundreds of thousands of rows, and float sums of that length drift by more than the 1e-4 the golden
// test against torch allows. Variance is computed in a second pass around the mean (no cancellation).
#include <cmath>
#include <vector>

#include "kernels/norm.h"

namespace aslnet::kernels::cpu {

template <class T>
void batchnorm_forward_train(const NormShape& shape, const T* x, const T* gamma, const T* beta, T* y,
                             T* save_mean, T* save_invstd, T* running_mean, T* running_var, double momentum,
                             double eps) {
  const int64_t rows = shape.rows, c = shape.c;
  std::vector<double> mean(c, 0.0), var(c, 0.0);
  for (int64_t i = 0; i < rows; ++i) {
    const T* row = x + i * c;
    for (int64_t j = 0; j < c; ++j) mean[j] += row[j];
  }
  for (int64_t j = 0; j < c; ++j) mean[j] /= double(rows);
  for (int64_t i = 0; i < rows; ++i) {
    const T* row = x + i * c;
    for (int64_t j = 0; j < c; ++j) {
      const double d = row[j] - mean[j];
      var[j] += d * d;
    }
  }
  std::vector<T> scale(c), shift(c);
  for (int64_t j = 0; j < c; ++j) {
    const double biased = var[j] / double(rows);
    const double invstd = 1.0 / std::sqrt(biased + eps);
    save_mean[j] = T(mean[j]);
    save_invstd[j] = T(invstd);
    scale[j] = T(gamma[j] * invstd);
    shift[j] = T(beta[j] - mean[j] * gamma[j] * invstd);
    const double unbiased = rows > 1 ? var[j] / double(rows - 1) : biased;
    running_mean[j] = T((1.0 - momentum) * running_mean[j] + momentum * mean[j]);
    running_var[j] = T((1.0 - momentum) * running_var[j] + momentum * unbiased);
  }
  for (int64_t i = 0; i < rows; ++i) {
    const T* in = x + i * c;
    T* out = y + i * c;
    for (int64_t j = 0; j < c; ++j) out[j] = in[j] * scale[j] + shift[j];
  }
}

template <class T>
void batchnorm_forward_eval(const NormShape& shape, const T* x, const T* gamma, const T* beta,
                            const T* running_mean, const T* running_var, double eps, T* y) {
  const int64_t rows = shape.rows, c = shape.c;
  std::vector<T> scale(c), shift(c);
  for (int64_t j = 0; j < c; ++j) {
    const double invstd = 1.0 / std::sqrt(double(running_var[j]) + eps);
    scale[j] = T(gamma[j] * invstd);
    shift[j] = T(beta[j] - running_mean[j] * gamma[j] * invstd);
  }
  for (int64_t i = 0; i < rows; ++i) {
    const T* in = x + i * c;
    T* out = y + i * c;
    for (int64_t j = 0; j < c; ++j) out[j] = in[j] * scale[j] + shift[j];
  }
}

template <class T>
void batchnorm_backward(const NormShape& shape, const T* x, const T* dy, const T* gamma, const T* save_mean,
                        const T* save_invstd, T* dx, T* dgamma, T* dbeta, bool accumulate) {
  const int64_t rows = shape.rows, c = shape.c;
  // dbeta = sum dy; dgamma = sum dy * xhat, with xhat = (x - mean) * invstd.
  std::vector<double> sum_dy(c, 0.0), sum_dy_xmu(c, 0.0);
  for (int64_t i = 0; i < rows; ++i) {
    const T* in = x + i * c;
    const T* g = dy + i * c;
    for (int64_t j = 0; j < c; ++j) {
      sum_dy[j] += g[j];
      sum_dy_xmu[j] += double(g[j]) * (in[j] - save_mean[j]);
    }
  }
  // dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
  std::vector<T> a(c), b(c), k(c);
  for (int64_t j = 0; j < c; ++j) {
    const double invstd = save_invstd[j];
    const double dg = sum_dy_xmu[j] * invstd;
    dgamma[j] = T((accumulate ? double(dgamma[j]) : 0.0) + dg);
    dbeta[j] = T((accumulate ? double(dbeta[j]) : 0.0) + sum_dy[j]);
    const double gi = gamma[j] * invstd;
    a[j] = T(gi);                                               // times dy
    k[j] = T(gi * dg * invstd / double(rows));                  // times (x - mean)
    b[j] = T(-gi * sum_dy[j] / double(rows) + double(k[j]) * save_mean[j]);  // constant
  }
  for (int64_t i = 0; i < rows; ++i) {
    const T* in = x + i * c;
    const T* g = dy + i * c;
    T* out = dx + i * c;
    for (int64_t j = 0; j < c; ++j) out[j] = a[j] * g[j] - k[j] * in[j] + b[j];
  }
}

#define ASLNET_INSTANTIATE(T)                                                                                  \
  template void batchnorm_forward_train<T>(const NormShape&, const T*, const T*, const T*, T*, T*, T*, T*, T*, \
                                           double, double);                                                   \
  template void batchnorm_forward_eval<T>(const NormShape&, const T*, const T*, const T*, const T*, const T*,  \
                                          double, T*);                                                        \
  template void batchnorm_backward<T>(const NormShape&, const T*, const T*, const T*, const T*, const T*, T*,  \
                                      T*, T*, bool);
ASLNET_INSTANTIATE(float)
ASLNET_INSTANTIATE(double)
#undef ASLNET_INSTANTIATE

}  // namespace aslnet::kernels::cpu
