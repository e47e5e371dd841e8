// CPU synchronised batch norm (kernels/norm_sync.h): the reference for the CUDA twins, and the path of
// CPU replicas. As kernels/cpu/norm.cpp: sums in double, threads split the channels (never the rows),
// so every sum is taken in the same order whatever the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/core/parallel.h"
#include "kernels/norm_sync.h"

namespace aslnet::kernels::cpu {

namespace {
constexpr int64_t kChannelGrain = 16;
}  // namespace

template <class T>
void batchnorm_sync_local_stats(const NormShape& shape, const T* x, const T* shift, double* stats) {
  const int64_t rows = shape.rows, c = shape.c;
  parallel_for(c, kChannelGrain, [&](int64_t c0, int64_t c1) {
    const int64_t width = c1 - c0;
    std::vector<double> s1(width, 0.0), s2(width, 0.0), k(width);
    for (int64_t j = 0; j < width; ++j) k[j] = shift[c0 + j];
    for (int64_t i = 0; i < rows; ++i) {
      const T* row = x + i * c + c0;
      for (int64_t j = 0; j < width; ++j) {
        const double d = double(row[j]) - k[j];
        s1[j] += d;
        s2[j] += d * d;
      }
    }
    for (int64_t j = 0; j < width; ++j) {
      stats[c0 + j] = s1[j];
      stats[c + c0 + j] = s2[j];
    }
  });
  stats[2 * c] = double(rows);
}

template <class T>
void batchnorm_sync_statistics(int64_t c, const double* stats, int replicas, double momentum, double eps,
                               T* save_mean, T* save_invstd, T* running_mean, T* running_var) {
  const double n = stats[2 * c];  // rows per replica, on average
  const double total = std::round(n * double(replicas));
  for (int64_t ch = 0; ch < c; ++ch) {
    const double shift = running_mean[ch];
    const double d = stats[ch] / n;
    const double mean = shift + d;
    // Rounding can leave a constant channel a hair below zero.
    const double biased = std::max(0.0, stats[c + ch] / n - d * d);
    save_mean[ch] = T(mean);
    save_invstd[ch] = T(1.0 / std::sqrt(biased + eps));
    const double unbiased = total > 1.0 ? biased * total / (total - 1.0) : biased;
    running_mean[ch] = T((1.0 - momentum) * shift + momentum * mean);
    running_var[ch] = T((1.0 - momentum) * double(running_var[ch]) + momentum * unbiased);
  }
}

template <class T>
void batchnorm_sync_normalize(const NormShape& shape, const T* x, const T* gamma, const T* beta, const T* save_mean,
                              const T* save_invstd, T* y) {
  const int64_t rows = shape.rows, c = shape.c;
  // As the fused kernel: one multiply-add per element, the per-channel map computed in double.
  std::vector<T> scale(c), shift(c);
  for (int64_t j = 0; j < c; ++j) {
    const double g = double(gamma[j]) * double(save_invstd[j]);
    scale[j] = T(g);
    shift[j] = T(double(beta[j]) - double(save_mean[j]) * g);
  }
  parallel_for(rows, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, c)), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const T* in = x + i * c;
      T* out = y + i * c;
      for (int64_t j = 0; j < c; ++j) out[j] = in[j] * scale[j] + shift[j];
    }
  });
}

template <class T>
void batchnorm_sync_local_grad_sums(const NormShape& shape, const T* x, const T* dy, const T* save_mean,
                                    const T* save_invstd, double* sums, T* dgamma, T* dbeta, bool accumulate) {
  const int64_t rows = shape.rows, c = shape.c;
  parallel_for(c, kChannelGrain, [&](int64_t c0, int64_t c1) {
    const int64_t width = c1 - c0;
    std::vector<double> s1(width, 0.0), s2(width, 0.0);
    for (int64_t i = 0; i < rows; ++i) {
      const T* in = x + i * c + c0;
      const T* g = dy + i * c + c0;
      for (int64_t j = 0; j < width; ++j) {
        s1[j] += g[j];
        s2[j] += double(g[j]) * (double(in[j]) - double(save_mean[c0 + j]));
      }
    }
    for (int64_t j = 0; j < width; ++j) {
      const int64_t ch = c0 + j;
      sums[ch] = s1[j];
      sums[c + ch] = s2[j];
      dgamma[ch] = T((accumulate ? double(dgamma[ch]) : 0.0) + s2[j] * double(save_invstd[ch]));
      dbeta[ch] = T((accumulate ? double(dbeta[ch]) : 0.0) + s1[j]);
    }
  });
}

template <class T>
void batchnorm_sync_backward_dx(const NormShape& shape, const T* x, const T* dy, const T* gamma, const T* save_mean,
                                const T* save_invstd, const double* sums, const double* stats, T* dx) {
  const int64_t rows = shape.rows, c = shape.c;
  const double n = stats[2 * c];
  // dx = a * dy - k * x + b per channel: a = gamma * invstd, k = a * invstd^2 * mean_N(dy * (x - mean)),
  // b = -a * mean_N(dy) + k * mean (the fused kernel's algebra, with global means).
  std::vector<T> a(c), k(c), b(c);
  for (int64_t ch = 0; ch < c; ++ch) {
    const double invstd = save_invstd[ch];
    const double gi = double(gamma[ch]) * invstd;
    const double kk = gi * invstd * invstd * (sums[c + ch] / n);
    a[ch] = T(gi);
    k[ch] = T(kk);
    b[ch] = T(-gi * (sums[ch] / n) + kk * double(save_mean[ch]));
  }
  parallel_for(rows, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, c)), [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const T* in = x + i * c;
      const T* g = dy + i * c;
      T* out = dx + i * c;
      for (int64_t j = 0; j < c; ++j) out[j] = a[j] * g[j] - k[j] * in[j] + b[j];
    }
  });
}

#define ASLNET_INSTANTIATE(T)                                                                                      \
  template void batchnorm_sync_local_stats<T>(const NormShape&, const T*, const T*, double*);                      \
  template void batchnorm_sync_statistics<T>(int64_t, const double*, int, double, double, T*, T*, T*, T*);         \
  template void batchnorm_sync_normalize<T>(const NormShape&, const T*, const T*, const T*, const T*, const T*,    \
                                            T*);                                                                   \
  template void batchnorm_sync_local_grad_sums<T>(const NormShape&, const T*, const T*, const T*, const T*,        \
                                                  double*, T*, T*, bool);                                          \
  template void batchnorm_sync_backward_dx<T>(const NormShape&, const T*, const T*, const T*, const T*, const T*, \
                                              const double*, const double*, T*);
ASLNET_INSTANTIATE(float)
ASLNET_INSTANTIATE(double)
#undef ASLNET_INSTANTIATE

}  // namespace aslnet::kernels::cpu
