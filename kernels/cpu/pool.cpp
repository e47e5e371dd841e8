#include "kernels/pool.h"

#include <algorithm>
#include <limits>

#include "engine/core/parallel.h"
#include "engine/core/vectorize.h"

namespace aslnet::kernels::cpu {

namespace {
// One window position into the running maximum of `channels` values: strictly greater, so the first
// maximum in window order wins, as in torch. Branch-free, so that it vectorises (engine/core/vectorize.h).
template <class T>
ASLNET_VECTORIZE void take_larger(int64_t channels, const T* in, int32_t index, T* out, int32_t* arg) {
  for (int64_t c = 0; c < channels; ++c) {
    const T v = in[c], best = out[c];
    const bool larger = v > best;
    out[c] = larger ? v : best;
    arg[c] = larger ? index + int32_t(c) : arg[c];
  }
}
}  // namespace

template <class T>
void maxpool_forward(const PoolShape& s, const T* x, T* y, int32_t* argmax) {
  const int64_t oh_n = s.out_h(), ow_n = s.out_w();
  // Threads split the output rows (image, oh).
  parallel_for(s.n * oh_n, 1, [&](int64_t first, int64_t last) {
    for (int64_t row = first; row < last; ++row) {
      const int64_t n = row / oh_n, oh = row % oh_n;
      const T* image = x + n * s.h * s.w * s.c;
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        T* out = y + ((n * oh_n + oh) * ow_n + ow) * s.c;
        int32_t* arg = argmax + ((n * oh_n + oh) * ow_n + ow) * s.c;
        // The window's first position in the image is its first candidate; a window wholly in the
        // padding (which the shapes exclude) would leave -inf and -1.
        std::fill_n(out, s.c, -std::numeric_limits<T>::infinity());
        std::fill_n(arg, s.c, -1);
        bool first = true;
        for (int64_t r = 0; r < s.window; ++r) {
          const int64_t ih = oh * s.stride - s.pad + r;
          if (ih < 0 || ih >= s.h) continue;
          for (int64_t q = 0; q < s.window; ++q) {
            const int64_t iw = ow * s.stride - s.pad + q;
            if (iw < 0 || iw >= s.w) continue;
            const int64_t base = (ih * s.w + iw) * s.c;
            if (first) {
              std::copy_n(image + base, s.c, out);
              for (int64_t c = 0; c < s.c; ++c) arg[c] = int32_t(base + c);
              first = false;
            } else {
              take_larger(s.c, image + base, int32_t(base), out, arg);
            }
          }
        }
      }
    }
  });
}

template <class T>
void maxpool_backward(const PoolShape& s, const T* dy, const int32_t* argmax, T* dx) {
  const int64_t per_out = s.out_h() * s.out_w() * s.c, per_in = s.h * s.w * s.c;
  // Threads split the images: each scatters only into its own image.
  parallel_for(s.n, 1, [&](int64_t first, int64_t last) {
    std::fill_n(dx + first * per_in, (last - first) * per_in, T(0));
    for (int64_t n = first; n < last; ++n)
      for (int64_t i = 0; i < per_out; ++i) dx[n * per_in + argmax[n * per_out + i]] += dy[n * per_out + i];
  });
}

template <class T>
void global_avgpool_forward(int64_t n, int64_t hw, int64_t c, const T* x, T* y) {
  for (int64_t b = 0; b < n; ++b) {
    T* out = y + b * c;
    std::fill_n(out, c, T(0));
    for (int64_t p = 0; p < hw; ++p) {
      const T* in = x + (b * hw + p) * c;
      for (int64_t j = 0; j < c; ++j) out[j] += in[j];
    }
    for (int64_t j = 0; j < c; ++j) out[j] /= T(hw);
  }
}

template <class T>
void global_avgpool_backward(int64_t n, int64_t hw, int64_t c, const T* dy, T* dx) {
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t p = 0; p < hw; ++p) {
      T* out = dx + (b * hw + p) * c;
      for (int64_t j = 0; j < c; ++j) out[j] = dy[b * c + j] / T(hw);
    }
  }
}

#define ASLNET_INSTANTIATE(T)                                                        \
  template void maxpool_forward<T>(const PoolShape&, const T*, T*, int32_t*);        \
  template void maxpool_backward<T>(const PoolShape&, const T*, const int32_t*, T*); \
  template void global_avgpool_forward<T>(int64_t, int64_t, int64_t, const T*, T*);  \
  template void global_avgpool_backward<T>(int64_t, int64_t, int64_t, const T*, T*);
ASLNET_INSTANTIATE(float)
ASLNET_INSTANTIATE(double)
#undef ASLNET_INSTANTIATE

}  // namespace aslnet::kernels::cpu
