// CPU batch norm over NHWC rows. Sums are accumulated in double whatever T is: a channel can have
// hundreds of thousands of rows, and float sums of that length drift by more than the 1e-4 the golden
// test against torch allows. Variance is computed in a second pass around the mean (no cancellation).
// Threads split the channels, not the rows, so every sum is taken in the same order whatever the
// thread count, and results are bit-identical across machines.
#include "kernels/norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/core/parallel.h"
#include "engine/core/vectorize.h"

namespace aslnet::kernels::cpu {

namespace {
// Channels per thread at the least: fewer and the threads would share cache lines of every row.
constexpr int64_t kChannelGrain = 16;

// The passes over the rows, each over `width` channels of rows `stride` apart, compiled for each
// vector width (engine/core/vectorize.h). The vectors run along the channels, so every channel's sum
// is still taken row by row, in the same order as a scalar loop.
template <class T>
ASLNET_VECTORIZE void add_rows(int64_t rows, int64_t stride, int64_t width, const T* x, double* sums) {
  for (int64_t i = 0; i < rows; ++i) {
    const T* row = x + i * stride;
    for (int64_t j = 0; j < width; ++j) sums[j] += row[j];
  }
}

template <class T>
ASLNET_VECTORIZE void add_squared_deviations(int64_t rows, int64_t stride, int64_t width, const T* x,
                                             const double* mean, double* sums) {
  for (int64_t i = 0; i < rows; ++i) {
    const T* row = x + i * stride;
    for (int64_t j = 0; j < width; ++j) {
      const double d = row[j] - mean[j];
      sums[j] += d * d;
    }
  }
}

// y = x * scale + shift per channel.
template <class T>
ASLNET_VECTORIZE void scale_shift_rows(int64_t rows, int64_t stride, int64_t width, const T* x, const T* scale,
                                       const T* shift, T* y) {
  for (int64_t i = 0; i < rows; ++i) {
    const T* in = x + i * stride;
    T* out = y + i * stride;
    for (int64_t j = 0; j < width; ++j) out[j] = in[j] * scale[j] + shift[j];
  }
}

// sum_dy += dy; sum_dy_xmu += dy * (x - mean), per channel.
template <class T>
ASLNET_VECTORIZE void add_backward_sums(int64_t rows, int64_t stride, int64_t width, const T* x, const T* dy,
                                        const T* mean, double* sum_dy, double* sum_dy_xmu) {
  for (int64_t i = 0; i < rows; ++i) {
    const T* in = x + i * stride;
    const T* g = dy + i * stride;
    for (int64_t j = 0; j < width; ++j) {
      sum_dy[j] += g[j];
      sum_dy_xmu[j] += double(g[j]) * (in[j] - mean[j]);
    }
  }
}

// dx = a * dy - k * x + b per channel.
template <class T>
ASLNET_VECTORIZE void backward_rows(int64_t rows, int64_t stride, int64_t width, const T* x, const T* dy, const T* a,
                                    const T* k, const T* b, T* dx) {
  for (int64_t i = 0; i < rows; ++i) {
    const T* in = x + i * stride;
    const T* g = dy + i * stride;
    T* out = dx + i * stride;
    for (int64_t j = 0; j < width; ++j) out[j] = a[j] * g[j] - k[j] * in[j] + b[j];
  }
}
}  // namespace

template <class T>
void batchnorm_forward_train(const NormShape& shape, const T* x, const T* gamma, const T* beta, T* y, T* save_mean,
                             T* save_invstd, T* running_mean, T* running_var, double momentum, double eps) {
  const int64_t rows = shape.rows, c = shape.c;
  parallel_for(c, kChannelGrain, [&](int64_t c0, int64_t c1) {
    const int64_t width = c1 - c0;
    std::vector<double> mean(width, 0.0), var(width, 0.0);
    add_rows(rows, c, width, x + c0, mean.data());
    for (int64_t j = 0; j < width; ++j) mean[j] /= double(rows);
    add_squared_deviations(rows, c, width, x + c0, mean.data(), var.data());
    std::vector<T> scale(width), shift(width);
    for (int64_t j = 0; j < width; ++j) {
      const int64_t ch = c0 + j;
      const double biased = var[j] / double(rows);
      const double invstd = 1.0 / std::sqrt(biased + eps);
      save_mean[ch] = T(mean[j]);
      save_invstd[ch] = T(invstd);
      scale[j] = T(gamma[ch] * invstd);
      shift[j] = T(beta[ch] - mean[j] * gamma[ch] * invstd);
      const double unbiased = rows > 1 ? var[j] / double(rows - 1) : biased;
      running_mean[ch] = T((1.0 - momentum) * running_mean[ch] + momentum * mean[j]);
      running_var[ch] = T((1.0 - momentum) * running_var[ch] + momentum * unbiased);
    }
    scale_shift_rows(rows, c, width, x + c0, scale.data(), shift.data(), y + c0);
  });
}

template <class T>
void batchnorm_forward_eval(const NormShape& shape, const T* x, const T* gamma, const T* beta, const T* running_mean,
                            const T* running_var, double eps, T* y) {
  const int64_t rows = shape.rows, c = shape.c;
  std::vector<T> scale(c), shift(c);
  for (int64_t j = 0; j < c; ++j) {
    const double invstd = 1.0 / std::sqrt(double(running_var[j]) + eps);
    scale[j] = T(gamma[j] * invstd);
    shift[j] = T(beta[j] - running_mean[j] * gamma[j] * invstd);
  }
  parallel_for(rows, std::max<int64_t>(1, (1 << 15) / c), [&](int64_t r0, int64_t r1) {
    scale_shift_rows(r1 - r0, c, c, x + r0 * c, scale.data(), shift.data(), y + r0 * c);
  });
}

template <class T>
void batchnorm_backward(const NormShape& shape, const T* x, const T* dy, const T* gamma, const T* save_mean,
                        const T* save_invstd, T* dx, T* dgamma, T* dbeta, bool accumulate, bool batch_statistics) {
  const int64_t rows = shape.rows, c = shape.c;
  parallel_for(c, kChannelGrain, [&](int64_t c0, int64_t c1) {
    const int64_t width = c1 - c0;
    // dbeta = sum dy; dgamma = sum dy * xhat, with xhat = (x - mean) * invstd.
    std::vector<double> sum_dy(width, 0.0), sum_dy_xmu(width, 0.0);
    add_backward_sums(rows, c, width, x + c0, dy + c0, save_mean + c0, sum_dy.data(), sum_dy_xmu.data());
    // dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)), as a * dy - k * x + b per channel.
    // With fixed statistics the mean and invstd do not depend on x, so only a * dy is left (k = b = 0).
    std::vector<T> a(width), b(width), k(width);
    for (int64_t j = 0; j < width; ++j) {
      const int64_t ch = c0 + j;
      const double invstd = save_invstd[ch];
      const double dg = sum_dy_xmu[j] * invstd;
      dgamma[ch] = T((accumulate ? double(dgamma[ch]) : 0.0) + dg);
      dbeta[ch] = T((accumulate ? double(dbeta[ch]) : 0.0) + sum_dy[j]);
      const double gi = gamma[ch] * invstd;
      a[j] = T(gi);
      k[j] = batch_statistics ? T(gi * dg * invstd / double(rows)) : T(0);
      b[j] = batch_statistics ? T(-gi * sum_dy[j] / double(rows) + double(k[j]) * save_mean[ch]) : T(0);
    }
    backward_rows(rows, c, width, x + c0, dy + c0, a.data(), k.data(), b.data(), dx + c0);
  });
}

template <class T>
void batchnorm_frozen_statistics(int64_t c, const T* running_mean, const T* running_var, double eps, T* save_mean,
                                 T* save_invstd) {
  // In double, as batchnorm_forward_eval computes the invstd it normalises with.
  for (int64_t j = 0; j < c; ++j) {
    save_mean[j] = running_mean[j];
    save_invstd[j] = T(1.0 / std::sqrt(double(running_var[j]) + eps));
  }
}

#define ASLNET_INSTANTIATE(T)                                                                                          \
  template void batchnorm_forward_train<T>(const NormShape&, const T*, const T*, const T*, T*, T*, T*, T*, T*, double, \
                                           double);                                                                    \
  template void batchnorm_forward_eval<T>(const NormShape&, const T*, const T*, const T*, const T*, const T*, double,  \
                                          T*);                                                                         \
  template void batchnorm_backward<T>(const NormShape&, const T*, const T*, const T*, const T*, const T*, T*, T*, T*,  \
                                      bool, bool);                                                                     \
  template void batchnorm_frozen_statistics<T>(int64_t, const T*, const T*, double, T*, T*);
ASLNET_INSTANTIATE(float)
ASLNET_INSTANTIATE(double)
#undef ASLNET_INSTANTIATE

}  // namespace aslnet::kernels::cpu
