// Image transforms between the decoder and the batch. The resize is Pillow's separable resampling with its
// bilinear (triangle) filter, in Pillow's own fixed-point arithmetic: the filter's support widens with the
// downscale factor, so shrinking averages every source pixel (antialiasing) instead of skipping most of them,
// and since torchvision's Resize on PIL images is exactly this code, images here look like the ones a
// PyTorch user trained on (equal to the level in our tests). Augmentation follows torchvision's
// RandomResizedCrop, RandomRotation / RandomAffine's shear / RandomPerspective (composed into one warp),
// RandomHorizontalFlip, ColorJitter, RandomGrayscale, GaussianBlur and RandomErasing, with every random draw
// taken from the caller's Rng in a fixed order, and only for the augmentations that are on, so a sample
// depends only on its seed and switching one augmentation off leaves the others' draws alone.
//
// Speed matters (the loader has to beat torchvision's pipeline several times over): filter weights are
// computed once per output row/column per call, the inner loops are integer multiply-adds over uint8 that
// the compiler vectorises, scratch buffers are thread_local, and the evaluation crop computes only the
// output pixels it keeps.
#include "data/transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <vector>

namespace aslnet {
namespace {

// Pillow's fixed point for 8-bit images (Resample.c): 32 bits minus 8 for the pixel minus 2 for headroom.
constexpr int kPrecisionBits = 32 - 8 - 2;

inline uint8_t clip8(int32_t v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return uint8_t(v >> kPrecisionBits);
}

inline uint8_t clamp_round(float v) { return uint8_t(std::min(255.0f, std::max(0.0f, v)) + 0.5f); }

// One axis of a resampling: for each output position, the first source index, the tap count, and the
// fixed-point weights (ksize per output, zero-padded).
struct Taps {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weights;
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for in_size -> out_size with the bilinear filter
// (triangle of support 1, scaled by the downscale factor), for outputs [out0, out0 + n) only.
void compute_taps(int in_size, int out_size, int out0, int n, Taps& taps) {
  const double scale = double(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;
  const double inv = 1.0 / filterscale;
  taps.ksize = int(std::ceil(support)) * 2 + 1;
  taps.first.resize(size_t(n));
  taps.count.resize(size_t(n));
  taps.weights.assign(size_t(n) * taps.ksize, 0);
  thread_local std::vector<double> k;
  k.resize(size_t(taps.ksize));
  for (int i = 0; i < n; ++i) {
    const int xx = out0 + i;
    const double center = (xx + 0.5) * scale;
    const int xmin = std::max(0, int(center - support + 0.5));
    const int xmax = std::min(in_size, int(center + support + 0.5)) - xmin;
    double total = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double t = std::abs((x + xmin - center + 0.5) * inv);
      k[size_t(x)] = t < 1.0 ? 1.0 - t : 0.0;
      total += k[size_t(x)];
    }
    int32_t* out = &taps.weights[size_t(i) * taps.ksize];
    for (int x = 0; x < xmax; ++x) {
      const double v = total != 0.0 ? k[size_t(x)] / total : k[size_t(x)];
      out[x] = int32_t(v < 0 ? -0.5 + v * (1 << kPrecisionBits) : 0.5 + v * (1 << kPrecisionBits));
    }
    taps.first[size_t(i)] = xmin;
    taps.count[size_t(i)] = std::max(0, xmax);
  }
}

// Horizontal pass: rows [row0, row0 + rows) of src -> dst (taps.first.size() pixels a row).
void horizontal_pass(const uint8_t* src, size_t src_stride, int row0, int rows, const Taps& taps, uint8_t* dst,
                     size_t dst_stride) {
  const int n = int(taps.first.size());
  constexpr int32_t half = 1 << (kPrecisionBits - 1);
  for (int y = 0; y < rows; ++y) {
    const uint8_t* row = src + size_t(row0 + y) * src_stride;
    uint8_t* out = dst + size_t(y) * dst_stride;
    for (int i = 0; i < n; ++i) {
      const uint8_t* p = row + size_t(taps.first[size_t(i)]) * 3;
      const int32_t* k = &taps.weights[size_t(i) * taps.ksize];
      const int count = taps.count[size_t(i)];
      int32_t s0 = half, s1 = half, s2 = half;
      for (int x = 0; x < count; ++x, p += 3) {
        s0 += p[0] * k[x];
        s1 += p[1] * k[x];
        s2 += p[2] * k[x];
      }
      out[3 * i + 0] = clip8(s0);
      out[3 * i + 1] = clip8(s1);
      out[3 * i + 2] = clip8(s2);
    }
  }
}

// Vertical pass: `bytes` bytes of each source row (starting at src) -> one dst row per output, summing
// whole rows at a time into an int32 accumulator so that the inner loop is a straight vector FMA.
void vertical_pass(const uint8_t* src, size_t src_stride, int bytes, const Taps& taps, uint8_t* dst,
                   size_t dst_stride) {
  thread_local std::vector<int32_t> acc;
  acc.resize(size_t(bytes));
  const int n = int(taps.first.size());
  for (int i = 0; i < n; ++i) {
    std::fill(acc.begin(), acc.end(), int32_t(1) << (kPrecisionBits - 1));
    const int32_t* k = &taps.weights[size_t(i) * taps.ksize];
    int32_t* a = acc.data();
    for (int y = 0; y < taps.count[size_t(i)]; ++y) {
      const uint8_t* row = src + size_t(taps.first[size_t(i)] + y) * src_stride;
      const int32_t w = k[y];
      for (int c = 0; c < bytes; ++c) a[c] += row[c] * w;
    }
    uint8_t* out = dst + size_t(i) * dst_stride;
    for (int c = 0; c < bytes; ++c) out[c] = clip8(a[c]);
  }
}

// Resizes the in_w x in_h image at src (row stride src_stride bytes) to out_w x out_h, as Pillow's
// Image.resize(BILINEAR) would the same pixels, and returns only the window [ox, ox + ow) x [oy, oy + oh)
// of the result: each output pixel depends only on its own row's and column's taps, so a crop of the
// resize costs only what it keeps.
Image resample(const uint8_t* src, size_t src_stride, int in_w, int in_h, int out_w, int out_h, int ox, int oy,
               int ow, int oh) {
  ASLNET_CHECK(in_w > 0 && in_h > 0 && out_w > 0 && out_h > 0)
      << "cannot resize " << in_w << "x" << in_h << " to " << out_w << "x" << out_h;
  ASLNET_CHECK(ox >= 0 && oy >= 0 && ow > 0 && oh > 0 && ox + ow <= out_w && oy + oh <= out_h)
      << "window " << ow << "x" << oh << "+" << ox << "+" << oy << " outside " << out_w << "x" << out_h;
  Image out;
  out.width = ow;
  out.height = oh;
  out.pixels.resize(size_t(ow) * oh * 3);
  const size_t out_stride = size_t(ow) * 3;
  const bool horizontal = out_w != in_w, vertical = out_h != in_h;
  thread_local Taps htaps, vtaps;
  if (horizontal) compute_taps(in_w, out_w, ox, ow, htaps);
  if (vertical) compute_taps(in_h, out_h, oy, oh, vtaps);

  if (horizontal && vertical) {
    // Only the source rows the kept output rows read go through the horizontal pass (as Pillow does).
    const int row0 = vtaps.first.front();
    const int row1 = vtaps.first.back() + vtaps.count.back();
    thread_local std::vector<uint8_t> temp;
    temp.resize(size_t(row1 - row0) * out_stride);
    horizontal_pass(src, src_stride, row0, row1 - row0, htaps, temp.data(), out_stride);
    for (auto& f : vtaps.first) f -= row0;
    vertical_pass(temp.data(), out_stride, int(out_stride), vtaps, out.pixels.data(), out_stride);
  } else if (horizontal) {
    horizontal_pass(src, src_stride, oy, oh, htaps, out.pixels.data(), out_stride);
  } else if (vertical) {
    vertical_pass(src + size_t(ox) * 3, src_stride, int(out_stride), vtaps, out.pixels.data(), out_stride);
  } else {
    for (int y = 0; y < oh; ++y)
      std::memcpy(out.pixels.data() + size_t(y) * out_stride, src + size_t(oy + y) * src_stride + size_t(ox) * 3,
                  out_stride);
  }
  return out;
}

void check_image(const Image& image, const char* what) {
  ASLNET_CHECK(image.width > 0 && image.height > 0 && image.pixels.size() == size_t(image.width) * image.height * 3)
      << what << ": expected a non-empty RGB image, got " << image.width << "x" << image.height << " with "
      << image.pixels.size() << " bytes";
}

// The evaluation resize's shorter side: torchvision's ImageNet recipe resizes to 256 for a 224 crop.
int eval_resize_side(int size) { return int(std::lround(size / 0.875)); }

struct Box {
  int x, y, w, h;
};

// torchvision's RandomResizedCrop.get_params: up to 10 tries at a random area fraction and log-uniform
// aspect ratio, else the centre crop at the nearest allowed ratio. Python's round() rounds half to even,
// hence nearbyint.
Box random_resized_crop_box(int width, int height, const AugmentOptions& o, Rng& rng) {
  const double area = double(width) * height;
  const double log_lo = std::log(o.crop_ratio_min), log_hi = std::log(o.crop_ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * rng.uniform(o.crop_scale_min, o.crop_scale_max);
    const double ratio = std::exp(rng.uniform(log_lo, log_hi));
    const int w = int(std::nearbyint(std::sqrt(target * ratio)));
    const int h = int(std::nearbyint(std::sqrt(target / ratio)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int y = int(rng.below(uint64_t(height - h + 1)));
      const int x = int(rng.below(uint64_t(width - w + 1)));
      return {x, y, w, h};
    }
  }
  const double in_ratio = double(width) / height;
  int w = width, h = height;
  if (in_ratio < std::min(o.crop_ratio_min, o.crop_ratio_max)) {
    h = std::clamp(int(std::nearbyint(w / std::min(o.crop_ratio_min, o.crop_ratio_max))), 1, height);
  } else if (in_ratio > std::max(o.crop_ratio_min, o.crop_ratio_max)) {
    w = std::clamp(int(std::nearbyint(h * std::max(o.crop_ratio_min, o.crop_ratio_max))), 1, width);
  }
  return {(width - w) / 2, (height - h) / 2, w, h};
}

// The warp of a crop box: a 3x3 homography taking an output pixel centre's offset from the box centre
// (dx, dy, 1) to the source offset from the same centre. Rotation and shear give an affine matrix (last row
// 0 0 1, no division per pixel); a perspective makes it projective.
struct Warp {
  double m[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
  bool projective = false;
};

// R(degrees) * SHy(shear_y) * SHx(shear_x): rotation counter-clockwise on screen (torchvision's sign) of the
// sheared box; SHy * SHx = [[1, tx], [ty, 1 + tx ty]] has determinant 1, so shear never changes the area.
// With no shear the product is exactly the rotation matrix (x * 1 and x * 0 are exact), so rotation-only
// output is bit for bit what it was before shear existed.
Warp rotation_shear(double degrees, double shear_x_degrees, double shear_y_degrees) {
  const double rad = degrees * M_PI / 180.0;
  const double c = std::cos(rad), s = std::sin(rad);
  const double tx = std::tan(shear_x_degrees * M_PI / 180.0), ty = std::tan(shear_y_degrees * M_PI / 180.0);
  const double shear[2][2] = {{1.0, tx}, {ty, 1.0 + tx * ty}};
  const double rot[2][2] = {{c, -s}, {s, c}};
  Warp w;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j) w.m[i][j] = rot[i][0] * shear[0][j] + rot[i][1] * shear[1][j];
  return w;
}

// The homography taking the 4 points `from` to `to` (h22 = 1): the 8x8 linear system of the DLT, solved by
// Gaussian elimination with partial pivoting. The points here are a box's corners and inward-moved
// corners, never degenerate.
Warp homography(const double from[4][2], const double to[4][2]) {
  double a[8][9];
  for (int i = 0; i < 4; ++i) {
    const double u = from[i][0], v = from[i][1], x = to[i][0], y = to[i][1];
    const double rx[9] = {u, v, 1, 0, 0, 0, -u * x, -v * x, x};
    const double ry[9] = {0, 0, 0, u, v, 1, -u * y, -v * y, y};
    std::copy_n(rx, 9, a[2 * i]);
    std::copy_n(ry, 9, a[2 * i + 1]);
  }
  for (int col = 0; col < 8; ++col) {
    int pivot = col;
    for (int r = col + 1; r < 8; ++r)
      if (std::abs(a[r][col]) > std::abs(a[pivot][col])) pivot = r;
    std::swap_ranges(a[col], a[col] + 9, a[pivot]);
    for (int r = 0; r < 8; ++r) {
      if (r == col) continue;
      const double f = a[r][col] / a[col][col];
      for (int k = col; k < 9; ++k) a[r][k] -= f * a[col][k];
    }
  }
  Warp w;
  for (int i = 0; i < 8; ++i) w.m[i / 3][i % 3] = a[i][8] / a[i][i];
  w.m[2][2] = 1.0;
  w.projective = true;
  return w;
}

Warp multiply(const Warp& a, const Warp& b) {
  Warp w;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) w.m[i][j] = a.m[i][0] * b.m[0][j] + a.m[i][1] * b.m[1][j] + a.m[i][2] * b.m[2][j];
  w.projective = a.projective || b.projective;
  return w;
}

// The random warp of a w x h box, drawing (in this order, each only when on) the rotation angle, the x and
// y shears, and the perspective's coin and its 8 corner offsets (torchvision's order: top-left, top-right,
// bottom-right, bottom-left, x then y). Nothing when no part applies.
std::optional<Warp> random_warp(int w, int h, const AugmentOptions& o, Rng& rng) {
  const bool rotate = o.rotation_degrees > 0, shear = o.shear_degrees > 0;
  const double degrees = rotate ? rng.uniform(-o.rotation_degrees, o.rotation_degrees) : 0.0;
  double shear_x = 0.0, shear_y = 0.0;
  if (shear) {
    shear_x = rng.uniform(-o.shear_degrees, o.shear_degrees);
    shear_y = rng.uniform(-o.shear_degrees, o.shear_degrees);
  }
  const bool perspective =
      o.perspective > 0 && o.perspective_probability > 0 && rng.uniform() < o.perspective_probability;
  if (!rotate && !shear && !perspective) return std::nullopt;
  const Warp affine = rotation_shear(degrees, shear_x, shear_y);
  if (!perspective) return affine;
  // RandomPerspective.get_params: the output shows at each inward-moved corner what the input had at the
  // box's corner, so the sampling map takes moved corners (output) to corners (input).
  const double hw = 0.5 * w, hh = 0.5 * h, dx = o.perspective * hw, dy = o.perspective * hh;
  const double corners[4][2] = {{-hw, -hh}, {hw, -hh}, {hw, hh}, {-hw, hh}};
  const double sign[4][2] = {{1, 1}, {-1, 1}, {-1, -1}, {1, -1}};  // inward, per corner and axis
  double moved[4][2];
  for (int i = 0; i < 4; ++i) {
    moved[i][0] = corners[i][0] + sign[i][0] * rng.uniform(0.0, dx);
    moved[i][1] = corners[i][1] + sign[i][1] * rng.uniform(0.0, dy);
  }
  // Perspective after the affine part (torchvision's RandomAffine then RandomPerspective): an output pixel
  // goes back through the perspective first, then through the affine map, to the source.
  return multiply(affine, homography(moved, corners));
}

// The box's pixels through `warp` about the box's centre, bilinear, in one pass. Samples come from the
// whole source image, so a rotated or distorted crop shows the real surroundings in its corners where the
// image has them; beyond the image's edge the nearest edge pixel repeats (no black wedges, which a network
// could learn to read as a sign of augmentation). The affine case needs no division per pixel.
template <bool kProjective>
Image warp_box(const Image& src, const Box& box, const Warp& warp) {
  Image out;
  out.width = box.w;
  out.height = box.h;
  out.pixels.resize(size_t(box.w) * box.h * 3);
  const float m00 = float(warp.m[0][0]), m01 = float(warp.m[0][1]), m02 = float(warp.m[0][2]);
  const float m10 = float(warp.m[1][0]), m11 = float(warp.m[1][1]), m12 = float(warp.m[1][2]);
  const float m20 = float(warp.m[2][0]), m21 = float(warp.m[2][1]), m22 = float(warp.m[2][2]);
  // Source pixel-index coordinates of output pixel (x, y): the box centre plus the warped offset.
  const float cx = box.w * 0.5f, cy = box.h * 0.5f;
  const float sx0 = float(box.x) + cx - 0.5f, sy0 = float(box.y) + cy - 0.5f;
  const int max_x = src.width - 1, max_y = src.height - 1;
  const size_t stride = size_t(src.width) * 3;
  const uint8_t* base = src.pixels.data();
  uint8_t* dst = out.pixels.data();
  for (int y = 0; y < box.h; ++y) {
    const float dy = float(y) + 0.5f - cy;
    for (int x = 0; x < box.w; ++x, dst += 3) {
      const float dx = float(x) + 0.5f - cx;
      float sx, sy;
      if constexpr (kProjective) {
        // Beyond the horizon of an extreme distortion (scale near 1) the denominator reaches 0: such
        // pixels take the edge like any other far-away sample.
        const float inv = 1.0f / std::max(m20 * dx + m21 * dy + m22, 1e-6f);
        sx = sx0 + (m00 * dx + m01 * dy + m02) * inv;
        sy = sy0 + (m10 * dx + m11 * dy + m12) * inv;
      } else {
        sx = sx0 + m00 * dx + m01 * dy;
        sy = sy0 + m10 * dx + m11 * dy;
      }
      // Far outside (a strong perspective's corner) every sample is the edge pixel anyway; clamping first
      // keeps the float -> int conversion in range (and sends a NaN to the edge too). Samples within one
      // pixel of the image are untouched, so rotation-only output is what it was before the clamp.
      sx = sx >= -1.0f ? std::min(sx, float(src.width)) : -1.0f;
      sy = sy >= -1.0f ? std::min(sy, float(src.height)) : -1.0f;
      const float fx = std::floor(sx), fy = std::floor(sy);
      const float ax = sx - fx, ay = sy - fy;
      const int ix = int(fx), iy = int(fy);
      const int x0 = std::clamp(ix, 0, max_x), x1 = std::clamp(ix + 1, 0, max_x);
      const int y0 = std::clamp(iy, 0, max_y), y1 = std::clamp(iy + 1, 0, max_y);
      const uint8_t* p00 = base + size_t(y0) * stride + size_t(x0) * 3;
      const uint8_t* p01 = base + size_t(y0) * stride + size_t(x1) * 3;
      const uint8_t* p10 = base + size_t(y1) * stride + size_t(x0) * 3;
      const uint8_t* p11 = base + size_t(y1) * stride + size_t(x1) * 3;
      for (int k = 0; k < 3; ++k) {
        const float top = p00[k] + ax * (p01[k] - p00[k]);
        const float bottom = p10[k] + ax * (p11[k] - p10[k]);
        dst[k] = uint8_t(top + ay * (bottom - top) + 0.5f);
      }
    }
  }
  return out;
}

Image warp_box(const Image& src, const Box& box, const Warp& warp) {
  return warp.projective ? warp_box<true>(src, box, warp) : warp_box<false>(src, box, warp);
}


// torchvision's ColorJitter in a fixed order (brightness, contrast, saturation, then hue; torchvision
// shuffles the order per sample, which adds nothing for these mild factors). Each step is a blend
// img * f + other * (1 - f), clamped to [0, 255] and rounded back to 8 bits as a uint8 pipeline would:
// brightness blends with black, contrast with the mean grey level of the (brightened) image, saturation
// with each pixel's grey level (ITU-R 601 luma weights, as torchvision's rgb_to_grayscale).
void jitter_brightness_contrast_saturation(Image& image, const AugmentOptions& o, Rng& rng) {
  auto factor = [&](double x) { return x > 0 ? float(rng.uniform(std::max(0.0, 1.0 - x), 1.0 + x)) : 1.0f; };
  const bool b_on = o.brightness > 0, c_on = o.contrast > 0, s_on = o.saturation > 0;
  const float fb = factor(o.brightness), fc = factor(o.contrast), fs = factor(o.saturation);
  if (!b_on && !c_on && !s_on) return;
  uint8_t* p = image.pixels.data();
  const size_t n = size_t(image.width) * image.height;

  // Pass 1: brightness (a table: it is per value) and, for contrast, the grey mean of the result.
  double grey_sum = 0.0;
  if (b_on) {
    uint8_t table[256];
    for (int v = 0; v < 256; ++v) table[v] = clamp_round(float(v) * fb);
    for (size_t i = 0; i < n * 3; ++i) p[i] = table[p[i]];
  }
  if (c_on) {
    for (size_t i = 0; i < n; ++i) grey_sum += 0.299f * p[3 * i] + 0.587f * p[3 * i + 1] + 0.114f * p[3 * i + 2];
  }
  if (!c_on && !s_on) return;

  // Pass 2: contrast then saturation, per pixel (saturation needs only the pixel's own channels).
  const float mean_term = float(grey_sum / double(n)) * (1.0f - fc);
  for (size_t i = 0; i < n; ++i, p += 3) {
    if (c_on) {
      for (int k = 0; k < 3; ++k) p[k] = clamp_round(fc * p[k] + mean_term);
    }
    if (s_on) {
      const float grey = (0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]) * (1.0f - fs);
      for (int k = 0; k < 3; ++k) p[k] = clamp_round(fs * p[k] + grey);
    }
  }
}

void color_jitter(Image& image, const AugmentOptions& o, Rng& rng) {
  jitter_brightness_contrast_saturation(image, o, rng);
  if (o.hue > 0) adjust_hue(image, rng.uniform(-o.hue, o.hue));
}

// RandomErasing's box (torchvision's get_params: 10 tries at a random area fraction and log-uniform
// height / width ratio, a box strictly smaller than the image each way, else nothing) filled with uniform
// noise, 8 bytes per draw.
void random_erase(Image& image, const AugmentOptions& o, Rng& rng) {
  const double area = double(image.width) * image.height;
  const double log_lo = std::log(o.erase_ratio_min), log_hi = std::log(o.erase_ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * rng.uniform(o.erase_scale_min, o.erase_scale_max);
    const double ratio = std::exp(rng.uniform(log_lo, log_hi));
    const int h = int(std::nearbyint(std::sqrt(target * ratio)));
    const int w = int(std::nearbyint(std::sqrt(target / ratio)));
    if (!(h < image.height && w < image.width)) continue;
    const int y0 = int(rng.below(uint64_t(image.height - h + 1)));
    const int x0 = int(rng.below(uint64_t(image.width - w + 1)));
    for (int y = y0; y < y0 + h; ++y) {
      uint8_t* p = image.at(x0, y);
      const size_t bytes = size_t(w) * 3;
      for (size_t i = 0; i < bytes; i += 8) {
        const uint64_t bits = rng.next_u64();
        std::memcpy(p + i, &bits, std::min<size_t>(8, bytes - i));
      }
    }
    return;
  }
}

}  // namespace

void flip_horizontal(Image& image) {
  for (int y = 0; y < image.height; ++y) {
    uint8_t* left = image.at(0, y);
    uint8_t* right = image.at(image.width - 1, y);
    for (; left < right; left += 3, right -= 3) {
      std::swap(left[0], right[0]);
      std::swap(left[1], right[1]);
      std::swap(left[2], right[2]);
    }
  }
}

Image resize(const Image& src, int width, int height) {
  check_image(src, "resize");
  return resample(src.pixels.data(), size_t(src.width) * 3, src.width, src.height, width, height, 0, 0, width,
                  height);
}

Image crop_resize(const Image& src, int x, int y, int box_width, int box_height, int width, int height) {
  check_image(src, "crop_resize");
  ASLNET_CHECK(x >= 0 && y >= 0 && box_width > 0 && box_height > 0 && x + box_width <= src.width &&
               y + box_height <= src.height)
      << "crop_resize: box " << box_width << "x" << box_height << "+" << x << "+" << y << " outside the "
      << src.width << "x" << src.height << " image";
  return resample(src.at(x, y), size_t(src.width) * 3, box_width, box_height, width, height, 0, 0, width, height);
}

// torchvision's _rgb2hsv -> shift -> _hsv2rgb, reduced to what changes: a hue turn keeps each pixel's
// largest channel (V) and smallest (V (1 - S)), and only moves which channel holds them and the middle
// value. So per pixel: the hue in sixths from the chroma (one table reciprocal, no division), shifted and
// wrapped, then the sector picks the channel order and the fraction within it gives the middle channel.
// Same values as the float HSV round trip up to float rounding, several times faster.
void adjust_hue(Image& image, double shift) {
  ASLNET_CHECK(shift >= -0.5 && shift <= 0.5) << "adjust_hue: shift must be in [-0.5, 0.5] turns, got " << shift;
  static const std::array<float, 256> inverse = [] {
    std::array<float, 256> t{};
    for (int c = 1; c < 256; ++c) t[size_t(c)] = 1.0f / float(c);
    return t;
  }();
  const float delta = float(shift * 6.0);
  uint8_t* p = image.pixels.data();
  const size_t n = size_t(image.width) * image.height;
  for (size_t i = 0; i < n; ++i, p += 3) {
    const int r = p[0], g = p[1], b = p[2];
    const int hi = std::max(r, std::max(g, b)), lo = std::min(r, std::min(g, b)), chroma = hi - lo;
    if (chroma == 0) continue;  // grey: no hue to turn
    const float inv = inverse[size_t(chroma)];
    float h = hi == r ? float(g - b) * inv : hi == g ? 2.0f + float(b - r) * inv : 4.0f + float(r - g) * inv;
    h += delta;
    h = h < 0.0f ? h + 6.0f : h;
    h = h < 0.0f ? h + 6.0f : h >= 6.0f ? h - 6.0f : h;
    int sector = int(h);
    sector = sector > 5 ? 5 : sector;  // h just under 6 rounding up
    const float f = h - float(sector);
    // Rising sectors (0, 2, 4) have the middle channel at lo + chroma f, falling ones at hi - chroma f.
    const uint8_t mid = uint8_t((sector % 2 == 0 ? float(lo) + float(chroma) * f : float(hi) - float(chroma) * f) + 0.5f);
    const uint8_t H = uint8_t(hi), L = uint8_t(lo);
    switch (sector) {
      case 0: p[0] = H, p[1] = mid, p[2] = L; break;
      case 1: p[0] = mid, p[1] = H, p[2] = L; break;
      case 2: p[0] = L, p[1] = H, p[2] = mid; break;
      case 3: p[0] = L, p[1] = mid, p[2] = H; break;
      case 4: p[0] = mid, p[1] = L, p[2] = H; break;
      default: p[0] = H, p[1] = L, p[2] = mid; break;
    }
  }
}

void to_grayscale(Image& image) {
  uint8_t* p = image.pixels.data();
  const size_t n = size_t(image.width) * image.height;
  for (size_t i = 0; i < n; ++i, p += 3) {
    // Pillow's L = R * 299/1000 + G * 587/1000 + B * 114/1000 in 16-bit fixed point, rounded.
    const uint8_t luma = uint8_t((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
    p[0] = p[1] = p[2] = luma;
  }
}

void gaussian_blur(Image& image, double sigma) {
  check_image(image, "gaussian_blur");
  ASLNET_CHECK(sigma > 0 && std::isfinite(sigma)) << "gaussian_blur: sigma must be positive, got " << sigma;
  const int w = image.width, h = image.height;
  // One normalised kernel per axis (they differ only when the radius is clipped by a short side).
  auto kernel = [&](int side) {
    const int radius = std::min(int(std::ceil(3.0 * sigma)), side - 1);
    std::vector<float> k(size_t(2 * radius + 1));
    double total = 0.0;
    for (int i = -radius; i <= radius; ++i) total += std::exp(-0.5 * i * i / (sigma * sigma));
    for (int i = -radius; i <= radius; ++i) k[size_t(i + radius)] = float(std::exp(-0.5 * i * i / (sigma * sigma)) / total);
    return k;
  };
  const std::vector<float> kx = kernel(w), ky = kernel(h);
  const int rx = int(kx.size() / 2), ry = int(ky.size() / 2);
  // Horizontal pass into floats (no rounding between the passes): each row padded with its edge pixels
  // repeated, so the taps need no clamping and the inner loops run straight over a row's values (plain
  // local pointers, so that the compiler vectorises them).
  thread_local std::vector<float> temp_buffer, padded_buffer, acc_buffer;
  const size_t row_values = size_t(w) * 3;
  temp_buffer.resize(size_t(h) * row_values);
  padded_buffer.resize(row_values + size_t(6 * rx));
  acc_buffer.resize(row_values);
  float* const temp = temp_buffer.data();
  float* const padded = padded_buffer.data();
  float* const acc = acc_buffer.data();
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = image.at(0, y);
    for (int x = -rx; x < w + rx; ++x) {
      const uint8_t* src = row + size_t(std::clamp(x, 0, w - 1)) * 3;
      float* dst = padded + size_t(x + rx) * 3;
      dst[0] = src[0], dst[1] = src[1], dst[2] = src[2];
    }
    float* out = temp + size_t(y) * row_values;
    std::fill_n(out, row_values, 0.0f);
    for (int i = 0; i <= 2 * rx; ++i) {
      const float k = kx[size_t(i)];
      const float* in = padded + size_t(i) * 3;
      for (size_t c = 0; c < row_values; ++c) out[c] += k * in[c];
    }
  }
  for (int y = 0; y < h; ++y) {
    std::fill_n(acc, row_values, 0.0f);
    for (int i = -ry; i <= ry; ++i) {
      const float* in = temp + size_t(std::clamp(y + i, 0, h - 1)) * row_values;
      const float k = ky[size_t(i + ry)];
      for (size_t c = 0; c < row_values; ++c) acc[c] += k * in[c];
    }
    uint8_t* out = image.at(0, y);
    for (size_t c = 0; c < row_values; ++c) out[c] = clamp_round(acc[c]);
  }
}

void check_augment_options(const AugmentOptions& o) {
  auto in = [](double v, double lo, double hi) { return v >= lo && v <= hi; };
  ASLNET_CHECK(in(o.crop_scale_min, 1e-9, 1.0) && in(o.crop_scale_max, o.crop_scale_min, 1.0))
      << "augment: crop scale must satisfy 0 < min <= max <= 1, got " << o.crop_scale_min << ".." << o.crop_scale_max;
  ASLNET_CHECK(o.crop_ratio_min > 0 && in(o.crop_ratio_max, o.crop_ratio_min, 1e9))
      << "augment: crop ratio must satisfy 0 < min <= max, got " << o.crop_ratio_min << ".." << o.crop_ratio_max;
  ASLNET_CHECK(in(o.brightness, 0, 1e9) && in(o.contrast, 0, 1e9) && in(o.saturation, 0, 1e9))
      << "augment: brightness, contrast and saturation must be >= 0, got " << o.brightness << ", " << o.contrast
      << ", " << o.saturation;
  ASLNET_CHECK(in(o.rotation_degrees, 0, 180)) << "augment: rotation must be in [0, 180] degrees, got "
                                               << o.rotation_degrees;
  ASLNET_CHECK(o.shear_degrees >= 0 && o.shear_degrees < 45)
      << "augment: shear must be in [0, 45) degrees, got " << o.shear_degrees;
  ASLNET_CHECK(in(o.perspective, 0, 1)) << "augment: perspective must be in [0, 1], got " << o.perspective;
  ASLNET_CHECK(in(o.hue, 0, 0.5)) << "augment: hue must be in [0, 0.5], got " << o.hue;
  for (const auto& [name, p] : {std::pair<const char*, double>{"perspective probability", o.perspective_probability},
                                {"grayscale probability", o.grayscale_probability},
                                {"blur probability", o.blur_probability},
                                {"erase probability", o.erase_probability}})
    ASLNET_CHECK(in(p, 0, 1)) << "augment: " << name << " must be in [0, 1], got " << p;
  ASLNET_CHECK(in(o.blur_sigma_min, 1e-9, 1e3) && in(o.blur_sigma_max, o.blur_sigma_min, 1e3))
      << "augment: blur sigma must satisfy 0 < min <= max, got " << o.blur_sigma_min << ".." << o.blur_sigma_max;
  ASLNET_CHECK(in(o.erase_scale_min, 1e-9, 1.0) && in(o.erase_scale_max, o.erase_scale_min, 1.0))
      << "augment: erase scale must satisfy 0 < min <= max <= 1, got " << o.erase_scale_min << ".."
      << o.erase_scale_max;
  ASLNET_CHECK(o.erase_ratio_min > 0 && in(o.erase_ratio_max, o.erase_ratio_min, 1e9))
      << "augment: erase ratio must satisfy 0 < min <= max, got " << o.erase_ratio_min << ".." << o.erase_ratio_max;
}

ResizedSize eval_resize_size(int width, int height, int size) {
  // torchvision's Resize(int): the shorter side to `side`, the longer one int(side * long / short).
  const int side = eval_resize_side(size);
  const bool wide = width > height;
  const int shorter = wide ? height : width, longer = wide ? width : height;
  const int resized_long = int(double(side) * longer / shorter);
  return wide ? ResizedSize{resized_long, side} : ResizedSize{side, resized_long};
}

Image eval_transform(const Image& src, int size) {
  check_image(src, "eval_transform");
  ASLNET_CHECK(size > 0) << "eval_transform: output size must be positive, got " << size;
  // Resize, then CenterCrop's offsets int(round((resized - size) / 2)).
  const auto [rw, rh] = eval_resize_size(src.width, src.height, size);
  const int left = int(std::nearbyint((rw - size) / 2.0)), top = int(std::nearbyint((rh - size) / 2.0));
  return resample(src.pixels.data(), size_t(src.width) * 3, src.width, src.height, rw, rh, left, top, size, size);
}

Image train_transform(const Image& src, int size, const AugmentOptions& options, Rng& rng) {
  check_image(src, "train_transform");
  ASLNET_CHECK(size > 0) << "train_transform: output size must be positive, got " << size;
  check_augment_options(options);
  const Box whole{0, 0, src.width, src.height};
  const Box box = options.random_resized_crop ? random_resized_crop_box(src.width, src.height, options, rng) : whole;
  const std::optional<Warp> warp = random_warp(box.w, box.h, options, rng);
  Image out;
  if (options.random_resized_crop) {
    // Resizing the box in place is the same as cropping then resizing (taps stop at the box's edges).
    out = warp ? resize(warp_box(src, box, *warp), size, size)
               : resample(src.at(box.x, box.y), size_t(src.width) * 3, box.w, box.h, size, size, 0, 0, size, size);
  } else {
    // No random crop: the whole image, warped, then evaluation's resize and centre crop, so that with
    // every augmentation off training sees exactly what evaluation does.
    out = eval_transform(warp ? warp_box(src, whole, *warp) : src, size);
  }
  if (options.flip && rng.uniform() < 0.5) flip_horizontal(out);
  color_jitter(out, options, rng);
  const auto coin = [&](double p) { return p > 0 && rng.uniform() < p; };
  if (coin(options.grayscale_probability)) to_grayscale(out);
  if (coin(options.blur_probability)) gaussian_blur(out, rng.uniform(options.blur_sigma_min, options.blur_sigma_max));
  if (coin(options.erase_probability)) random_erase(out, options, rng);
  return out;
}

void normalize_into(const Image& image, const Normalization& norm, DType dtype, void* dst) {
  check_image(image, "normalize_into");
  const size_t n = image.pixels.size();
  const uint8_t* p = image.pixels.data();
  if (dtype == DType::U8) {
    std::memcpy(dst, p, n);
    return;
  }
  ASLNET_CHECK(dtype == DType::F32 || dtype == DType::BF16)
      << "normalize_into: expected f32, bf16 or u8, got " << dtype_name(dtype);
  // A table per channel and value: 768 exact evaluations of the formula instead of one per pixel.
  float table[3][256];
  for (int k = 0; k < 3; ++k)
    for (int v = 0; v < 256; ++v) table[k][v] = (float(v) / 255.0f - norm.mean[size_t(k)]) / norm.std[size_t(k)];
  if (dtype == DType::F32) {
    float* out = static_cast<float*>(dst);
    for (size_t i = 0; i < n; i += 3) {
      out[i] = table[0][p[i]];
      out[i + 1] = table[1][p[i + 1]];
      out[i + 2] = table[2][p[i + 2]];
    }
  } else {
    bf16 btable[3][256];
    for (int k = 0; k < 3; ++k)
      for (int v = 0; v < 256; ++v) btable[k][v] = to_bf16(table[k][v]);
    bf16* out = static_cast<bf16*>(dst);
    for (size_t i = 0; i < n; i += 3) {
      out[i] = btable[0][p[i]];
      out[i + 1] = btable[1][p[i + 1]];
      out[i + 2] = btable[2][p[i + 2]];
    }
  }
}

int min_decode_side(int size, bool train) { return min_decode_side(size, train, AugmentOptions{}.crop_scale_min); }

int min_decode_side(int size, bool train, double crop_scale_min) {
  ASLNET_CHECK(crop_scale_min > 0 && crop_scale_min <= 1)
      << "min_decode_side: crop scale must be in (0, 1], got " << crop_scale_min;
  // Evaluation resizes the shorter side to size / 0.875 (with downscaling only if the image is larger).
  // Training crops a random box of at least crop_scale_min of the area and resizes it to size: asking for
  // size / sqrt(crop_scale_min) makes the smallest square crop still cover size pixels, so crops are
  // never upscaled except the extreme-ratio ones, by at most sqrt(4/3) along one axis. For 64 and the
  // default 0.35 that is ceil(64 / 0.5916) = 109, so a 200x200 photo decodes at 5/8 scale (125x125; 1/2
  // would give 100, too small); the training value also covers the evaluation path that training falls
  // back to without random crops.
  const int eval_side = eval_resize_side(size);
  if (!train) return eval_side;
  const int train_side = int(std::ceil(size / std::sqrt(crop_scale_min)));
  return std::max(train_side, eval_side);
}

}  // namespace aslnet
