// CPU convolution as im2col + one matrix product per chunk of images. In NHWC the columns of one
// output pixel are R*S contiguous runs of C input channels, so im2col is a series of memcpy's, and
// the filters (KRSC) are already the [K, R*S*C] matrix the product needs. Pointwise stride-1
// convolutions skip im2col: the activation itself is the [N*H*W, C] matrix.
#include "kernels/conv.h"

#include <algorithm>
#include <cstring>

#include "engine/core/parallel.h"
#include "kernels/linear.h"

namespace aslnet::kernels::cpu {

namespace {

// Columns are built for a few images at a time so the scratch stays bounded (32 MiB of f32) while
// each matrix product stays large enough to run near BLAS's peak.
constexpr int64_t kMaxColumnElems = int64_t(8) << 20;

int64_t column_elems_per_image(const ConvShape& s) { return s.out_h() * s.out_w() * s.r * s.s * s.c; }

int64_t images_per_chunk(const ConvShape& s) {
  return std::clamp<int64_t>(kMaxColumnElems / std::max<int64_t>(1, column_elems_per_image(s)), 1, s.n);
}

// columns[(oh, ow), (r, s, c)] for `count` images starting at x (one image after another). Threads
// split the output rows; every column entry is written by exactly one of them.
template <class T>
void im2col(const ConvShape& s, int64_t count, const T* x, T* columns) {
  const int64_t oh_n = s.out_h(), ow_n = s.out_w(), run = s.c, patch = s.r * s.s * s.c;
  parallel_for(count * oh_n, 1, [&](int64_t first, int64_t last) {
    for (int64_t row = first; row < last; ++row) {
      const int64_t i = row / oh_n, oh = row % oh_n;
      const T* image = x + i * s.h * s.w * s.c;
      T* out = columns + row * ow_n * patch;
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        for (int64_t r = 0; r < s.r; ++r) {
          const int64_t ih = oh * s.stride - s.pad + r;
          for (int64_t q = 0; q < s.s; ++q) {
            const int64_t iw = ow * s.stride - s.pad + q;
            if (ih < 0 || ih >= s.h || iw < 0 || iw >= s.w) {
              std::fill_n(out, run, T(0));
            } else {
              std::memcpy(out, image + (ih * s.w + iw) * s.c, sizeof(T) * run);
            }
            out += run;
          }
        }
      }
    }
  });
}

// The adjoint of im2col, written as a gather: each input pixel sums the column entries that came from
// it, in a fixed (r, s) order. Threads split the input rows, so no two write the same pixel and the
// sums do not depend on the thread count.
template <class T>
void col2im(const ConvShape& s, int64_t count, const T* columns, T* dx) {
  const int64_t oh_n = s.out_h(), ow_n = s.out_w(), run = s.c, patch = s.r * s.s * s.c;
  parallel_for(count * s.h, 1, [&](int64_t first, int64_t last) {
    for (int64_t row = first; row < last; ++row) {
      const int64_t i = row / s.h, ih = row % s.h;
      const T* image_columns = columns + i * oh_n * ow_n * patch;
      for (int64_t iw = 0; iw < s.w; ++iw) {
        T* dst = dx + ((i * s.h + ih) * s.w + iw) * s.c;
        std::fill_n(dst, run, T(0));
        for (int64_t r = 0; r < s.r; ++r) {
          const int64_t th = ih + s.pad - r;
          if (th < 0 || th % s.stride != 0 || th / s.stride >= oh_n) continue;
          const int64_t oh = th / s.stride;
          for (int64_t q = 0; q < s.s; ++q) {
            const int64_t tw = iw + s.pad - q;
            if (tw < 0 || tw % s.stride != 0 || tw / s.stride >= ow_n) continue;
            const T* src = image_columns + ((oh * ow_n + tw / s.stride) * s.r * s.s + r * s.s + q) * run;
            for (int64_t c = 0; c < run; ++c) dst[c] += src[c];
          }
        }
      }
    }
  });
}

}  // namespace

int64_t conv2d_workspace_elems(const ConvShape& s) {
  return s.is_pointwise() ? 0 : images_per_chunk(s) * column_elems_per_image(s);
}

template <class T>
void conv2d_forward(const ConvShape& s, const T* x, const T* w, T* y, T* columns) {
  const int64_t pixels_out = s.out_h() * s.out_w(), patch = s.r * s.s * s.c;
  if (s.is_pointwise()) {
    gemm<T>(false, true, s.n * pixels_out, s.k, s.c, T(1), x, s.c, w, s.c, T(0), y, s.k);
    return;
  }
  const int64_t chunk = images_per_chunk(s);
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const int64_t count = std::min(chunk, s.n - n0);
    im2col(s, count, x + n0 * s.h * s.w * s.c, columns);
    gemm<T>(false, true, count * pixels_out, s.k, patch, T(1), columns, patch, w, patch, T(0),
            y + n0 * pixels_out * s.k, s.k);
  }
}

template <class T>
void conv2d_backward_data(const ConvShape& s, const T* dy, const T* w, T* dx, T* columns) {
  const int64_t pixels_out = s.out_h() * s.out_w(), patch = s.r * s.s * s.c;
  if (s.is_pointwise()) {
    gemm<T>(false, false, s.n * pixels_out, s.c, s.k, T(1), dy, s.k, w, s.c, T(0), dx, s.c);
    return;
  }
  const int64_t chunk = images_per_chunk(s);
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const int64_t count = std::min(chunk, s.n - n0);
    gemm<T>(false, false, count * pixels_out, patch, s.k, T(1), dy + n0 * pixels_out * s.k, s.k, w, patch, T(0),
            columns, patch);
    col2im(s, count, columns, dx + n0 * s.h * s.w * s.c);
  }
}

template <class T>
void conv2d_backward_filter(const ConvShape& s, const T* x, const T* dy, T* dw, T* columns, bool accumulate) {
  const int64_t pixels_out = s.out_h() * s.out_w(), patch = s.r * s.s * s.c;
  if (s.is_pointwise()) {
    gemm<T>(true, false, s.k, s.c, s.n * pixels_out, T(1), dy, s.k, x, s.c, T(accumulate ? 1 : 0), dw, s.c);
    return;
  }
  const int64_t chunk = images_per_chunk(s);
  for (int64_t n0 = 0; n0 < s.n; n0 += chunk) {
    const int64_t count = std::min(chunk, s.n - n0);
    im2col(s, count, x + n0 * s.h * s.w * s.c, columns);
    const T beta = (accumulate || n0 > 0) ? T(1) : T(0);
    gemm<T>(true, false, s.k, patch, count * pixels_out, T(1), dy + n0 * pixels_out * s.k, s.k, columns, patch, beta,
            dw, patch);
  }
}

#define ASLNET_INSTANTIATE(T)                                                          \
  template void conv2d_forward<T>(const ConvShape&, const T*, const T*, T*, T*);       \
  template void conv2d_backward_data<T>(const ConvShape&, const T*, const T*, T*, T*); \
  template void conv2d_backward_filter<T>(const ConvShape&, const T*, const T*, T*, T*, bool);
ASLNET_INSTANTIATE(float)
ASLNET_INSTANTIATE(double)
#undef ASLNET_INSTANTIATE

}  // namespace aslnet::kernels::cpu
