// Hand composition (see compose.h). The mask is a threshold plus connected-component cleaning, the
// paste a bilinear resize of the hand's box and an integer alpha blend, so one composition costs a few
// passes over the image: cheap enough for a loader thread.
#include "data/compose.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "data/transforms.h"

namespace aslnet {
namespace {

void check_rgb(const Image& image, const char* what) {
  ASLNET_CHECK(image.width > 0 && image.height > 0 && image.pixels.size() == size_t(image.width) * image.height * 3)
      << what << ": expected a non-empty RGB image, got " << image.width << "x" << image.height << " with "
      << image.pixels.size() << " bytes";
}

// Fewer dark border pixels than this fraction: not a hand on a dark background (a photo, a wall). Of
// Massey's photos, the least dark border has 96% of its pixels dark; of the dim-room photos in our dev set
// that pass the other tests, the darkest border has 78%.
constexpr double kMinDarkBorder = 0.8;
// The background (everything but the hand) must be near black, not merely dark: at least this fraction of
// it at most threshold / 4. Massey: 95% or more at 10 and under; dim rooms: 82% at most.
constexpr double kMinBlackBackground = 0.9;
// The mask must cover this much of the image, no less and no more.
constexpr double kMinHandFraction = 0.01, kMaxHandFraction = 0.90;
// Holes in the hand smaller than this fraction of the image are filled.
constexpr double kMaxFilledHole = 1.0 / 400.0;

// Labels the connected components of pixels where in[i] == value (8- or 4-connected) into `label`
// (1-based; 0 for other pixels) and returns each component's size (index = label). The image is copied
// into a frame one pixel wider on every side that never matches, so neighbours need no bounds checks; an
// explicit stack, no recursion: a hand is one component of tens of thousands of pixels.
std::vector<int> label_components(const std::vector<uint8_t>& in, uint8_t value, int w, int h, bool eight,
                                  std::vector<int32_t>& label) {
  const int pw = w + 2;
  thread_local std::vector<uint8_t> framed;
  thread_local std::vector<int32_t> framed_label, stack;
  framed.assign(size_t(pw) * (h + 2), uint8_t(value + 1));
  for (int y = 0; y < h; ++y) std::memcpy(&framed[size_t(y + 1) * pw + 1], &in[size_t(y) * w], size_t(w));
  framed_label.assign(framed.size(), 0);
  const int32_t all[8] = {-pw - 1, -pw, -pw + 1, -1, 1, pw - 1, pw, pw + 1};
  const int32_t cross[4] = {-pw, -1, 1, pw};
  const int32_t* offsets = eight ? all : cross;
  const int neighbours = eight ? 8 : 4;
  std::vector<int> sizes{0};
  for (size_t start = 0; start < framed.size(); ++start) {
    if (framed[start] != value || framed_label[start] != 0) continue;
    const int32_t id = int32_t(sizes.size());
    int size = 0;
    framed_label[start] = id;
    stack.assign(1, int32_t(start));
    while (!stack.empty()) {
      const int32_t i = stack.back();
      stack.pop_back();
      ++size;
      for (int k = 0; k < neighbours; ++k) {
        const int32_t j = i + offsets[k];
        if (framed[size_t(j)] == value && framed_label[size_t(j)] == 0) {
          framed_label[size_t(j)] = id;
          stack.push_back(j);
        }
      }
    }
    sizes.push_back(size);
  }
  label.resize(in.size());
  for (int y = 0; y < h; ++y)
    std::memcpy(&label[size_t(y) * w], &framed_label[size_t(y + 1) * pw + 1], size_t(w) * sizeof(int32_t));
  return sizes;
}

struct Rect {
  int x = 0, y = 0, w = 0, h = 0;
};

Rect mask_bounds(const std::vector<uint8_t>& mask, int w, int h) {
  int x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = mask.data() + size_t(y) * w;
    for (int x = 0; x < w; ++x)
      if (row[x]) {
        x0 = std::min(x0, x), x1 = std::max(x1, x);
        y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
  }
  return x1 < 0 ? Rect{} : Rect{x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

// Alpha (0..255) of a binary w x h mask feathered by `feather` pixels: min(1, d / (feather + 1)) with d
// the 3-4 chamfer distance (in orthogonal steps) to the nearest 0 pixel inside the image; beyond the
// image's edge counts as hand, since a mask that reaches the edge was cut there, not segmented.
std::vector<uint8_t> feathered_alpha(const std::vector<uint8_t>& binary, int w, int h, int feather) {
  std::vector<uint8_t> alpha(binary.size());
  if (feather <= 0) {
    for (size_t i = 0; i < binary.size(); ++i) alpha[i] = binary[i] ? 255 : 0;
    return alpha;
  }
  const int cap = 3 * (feather + 1);  // distances beyond the ramp are all "inside": no need to count on
  std::vector<int> d(binary.size());
  for (size_t i = 0; i < binary.size(); ++i) d[i] = binary[i] ? cap : 0;
  auto relax = [&](int x, int y, int nx, int ny, int step) {
    if (nx < 0 || ny < 0 || nx >= w || ny >= h) return;
    int& here = d[size_t(y) * w + x];
    here = std::min(here, d[size_t(ny) * w + nx] + step);
  };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      relax(x, y, x - 1, y, 3), relax(x, y, x, y - 1, 3), relax(x, y, x - 1, y - 1, 4), relax(x, y, x + 1, y - 1, 4);
    }
  for (int y = h - 1; y >= 0; --y)
    for (int x = w - 1; x >= 0; --x) {
      relax(x, y, x + 1, y, 3), relax(x, y, x, y + 1, 3), relax(x, y, x + 1, y + 1, 4), relax(x, y, x - 1, y + 1, 4);
    }
  for (size_t i = 0; i < d.size(); ++i) alpha[i] = uint8_t(std::lround(255.0 * std::min(d[i], cap) / cap));
  return alpha;
}

}  // namespace

void check_compose_options(const ComposeOptions& o) {
  ASLNET_CHECK(o.threshold >= 0 && o.threshold < 255) << "compose: threshold must be in [0, 255), got " << o.threshold;
  ASLNET_CHECK(o.scale_min > 0 && o.scale_min <= o.scale_max && o.scale_max <= 1)
      << "compose: hand scale must satisfy 0 < min <= max <= 1, got " << o.scale_min << ".." << o.scale_max;
  ASLNET_CHECK(o.feather >= 0 && o.feather <= 64) << "compose: feather must be in [0, 64] pixels, got " << o.feather;
  ASLNET_CHECK(o.background_scale_min > 0 && o.background_scale_min <= 1)
      << "compose: background scale must be in (0, 1], got " << o.background_scale_min;
}

bool hand_mask(const Image& image, int threshold, std::vector<uint8_t>& mask) {
  check_rgb(image, "hand_mask");
  const int w = image.width, h = image.height;
  const size_t n = size_t(w) * h;
  mask.assign(n, 0);
  const uint8_t* p = image.pixels.data();
  for (size_t i = 0; i < n; ++i, p += 3) mask[i] = std::max(p[0], std::max(p[1], p[2])) > threshold;

  // The border (every pixel of the outer ring) must be mostly dark.
  size_t border = 0, dark = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; x += (y == 0 || y == h - 1 || w == 1) ? 1 : w - 1) {
      ++border;
      dark += !mask[size_t(y) * w + x];
    }
  if (double(dark) < kMinDarkBorder * double(border)) return false;

  // Keep the largest bright component.
  std::vector<int32_t> label;
  std::vector<int> sizes = label_components(mask, 1, w, h, /*eight=*/true, label);
  if (sizes.size() < 2) return false;
  const int32_t hand = int32_t(std::max_element(sizes.begin() + 1, sizes.end()) - sizes.begin());
  for (size_t i = 0; i < n; ++i) mask[i] = label[i] == hand;

  // Fill the small holes: dark components (4-connected, the dual of 8) that do not reach the border.
  sizes = label_components(mask, 0, w, h, /*eight=*/false, label);
  std::vector<uint8_t> fill(sizes.size(), 1);
  fill[0] = 0;
  for (size_t id = 1; id < sizes.size(); ++id) fill[id] = double(sizes[id]) < kMaxFilledHole * double(n);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; x += (y == 0 || y == h - 1 || w == 1) ? 1 : w - 1) fill[size_t(label[size_t(y) * w + x])] = 0;
  size_t count = 0, black = 0;
  p = image.pixels.data();
  for (size_t i = 0; i < n; ++i, p += 3) {
    if (fill[size_t(label[i])]) mask[i] = 1;
    count += mask[i];
    black += !mask[i] && 4 * std::max(p[0], std::max(p[1], p[2])) <= threshold;
  }
  return double(count) >= kMinHandFraction * double(n) && double(count) <= kMaxHandFraction * double(n) &&
         double(black) >= kMinBlackBackground * double(n - count);
}

Image compose_on_background(const Image& foreground, const std::vector<uint8_t>& mask, const Image& background,
                            const ComposeOptions& o, Rng& rng) {
  check_rgb(foreground, "compose_on_background: foreground");
  check_rgb(background, "compose_on_background: background");
  check_compose_options(o);
  const int W = foreground.width, H = foreground.height;
  ASLNET_CHECK(mask.size() == size_t(W) * H) << "compose_on_background: the mask has " << mask.size()
                                             << " values for a " << W << "x" << H << " foreground";
  const Rect hand = mask_bounds(mask, W, H);
  ASLNET_CHECK(hand.w > 0) << "compose_on_background: the mask is empty (no hand to paste)";

  // The background: a random box of the foreground's aspect ratio, resized to the foreground's size.
  const double aspect = double(W) / H;
  const double fit_w = std::min(double(background.width), background.height * aspect);
  const double zoom = std::sqrt(rng.uniform(o.background_scale_min, 1.0));
  const int bw = std::clamp(int(std::lround(fit_w * zoom)), 1, background.width);
  const int bh = std::clamp(int(std::lround(fit_w / aspect * zoom)), 1, background.height);
  const int bx = int(rng.below(uint64_t(background.width - bw + 1)));
  const int by = int(rng.below(uint64_t(background.height - bh + 1)));
  Image out = crop_resize(background, bx, by, bw, bh, W, H);

  // The hand's box, scaled (bilinear), and its mask at the same size (nearest pixel centre: the feather
  // smooths the steps).
  const double fit = std::min(double(W) / hand.w, double(H) / hand.h);
  const double k = rng.uniform(o.scale_min, o.scale_max) * fit;
  const int sw = std::clamp(int(std::lround(hand.w * k)), 1, W), sh = std::clamp(int(std::lround(hand.h * k)), 1, H);
  const Image pasted = crop_resize(foreground, hand.x, hand.y, hand.w, hand.h, sw, sh);
  std::vector<uint8_t> binary(size_t(sw) * sh);
  std::vector<int> column(static_cast<size_t>(sw));
  for (int x = 0; x < sw; ++x) column[size_t(x)] = hand.x + std::min(hand.w - 1, int((x + 0.5) * hand.w / sw));
  for (int y = 0; y < sh; ++y) {
    const uint8_t* row = &mask[size_t(hand.y + std::min(hand.h - 1, int((y + 0.5) * hand.h / sh))) * W];
    for (int x = 0; x < sw; ++x) binary[size_t(y) * sw + x] = row[column[size_t(x)]] != 0;
  }
  const std::vector<uint8_t> alpha = feathered_alpha(binary, sw, sh, o.feather);

  // Where: uniform where it fits, or against the edge the wrist leaves the photo by.
  int px = int(rng.below(uint64_t(W - sw + 1))), py = int(rng.below(uint64_t(H - sh + 1)));
  if (o.keep_edges) {
    const bool left = hand.x == 0, right = hand.x + hand.w == W, top = hand.y == 0, bottom = hand.y + hand.h == H;
    if (left != right) px = left ? 0 : W - sw;
    if (top != bottom) py = top ? 0 : H - sh;
  }

  for (int y = 0; y < sh; ++y) {
    uint8_t* dst = out.at(px, py + y);
    const uint8_t* src = pasted.at(0, y);
    const uint8_t* a = alpha.data() + size_t(y) * sw;
    for (int x = 0; x < sw; ++x, dst += 3, src += 3) {
      const int w1 = a[x], w0 = 255 - w1;
      for (int c = 0; c < 3; ++c) dst[c] = uint8_t((dst[c] * w0 + src[c] * w1 + 127) / 255);
    }
  }
  return out;
}

Image generated_clutter(int width, int height, Rng& rng) {
  ASLNET_CHECK(width > 0 && height > 0) << "generated_clutter: size must be positive, got " << width << "x" << height;
  auto colour = [&](float rgb[3]) {
    for (int c = 0; c < 3; ++c) rgb[c] = float(rng.below(256));
  };
  Image image;
  image.width = width;
  image.height = height;
  image.pixels.resize(size_t(width) * height * 3);

  // A wall: a gradient between two colours along a random direction.
  float c0[3], c1[3];
  colour(c0);
  colour(c1);
  const double angle = rng.uniform(0.0, 2.0 * M_PI);
  const float ux = float(std::cos(angle)), uy = float(std::sin(angle));
  const float span = float(std::abs(ux) * width + std::abs(uy) * height);
  for (int y = 0; y < height; ++y) {
    // t runs linearly along the row: its start and step, then each channel a straight loop.
    const float t0 = ((0.5f - 0.5f * width) * ux + (y + 0.5f - 0.5f * height) * uy) / span + 0.5f, dt = ux / span;
    uint8_t* row = image.at(0, y);
    for (int c = 0; c < 3; ++c) {
      const float base = c0[c] + 0.5f, slope = c1[c] - c0[c];
      for (int x = 0; x < width; ++x) row[3 * x + c] = uint8_t(base + (t0 + dt * float(x)) * slope);
    }
  }

  // Furniture: rectangles, ellipses and stripe patches, each of one colour at a random opacity.
  const int shapes = 4 + int(rng.below(8));
  for (int s = 0; s < shapes; ++s) {
    const int kind = int(rng.below(3));
    const int sw = std::max(1, int(width * rng.uniform(0.1, 0.6))), sh = std::max(1, int(height * rng.uniform(0.1, 0.6)));
    const int x0 = int(rng.below(uint64_t(width))) - sw / 2, y0 = int(rng.below(uint64_t(height))) - sh / 2;
    float rgb[3];
    colour(rgb);
    const float opacity = float(rng.uniform(0.5, 1.0));
    const bool vertical = rng.uniform() < 0.5;
    const int period = 2 + int(rng.below(uint64_t(std::max(2, std::min(sw, sh) / 2))));
    for (int y = std::max(0, y0); y < std::min(height, y0 + sh); ++y)
      for (int x = std::max(0, x0); x < std::min(width, x0 + sw); ++x) {
        bool inside = true;
        if (kind == 1) {  // ellipse inscribed in the box
          const float ex = (x - x0 + 0.5f) / sw * 2 - 1, ey = (y - y0 + 0.5f) / sh * 2 - 1;
          inside = ex * ex + ey * ey <= 1.0f;
        } else if (kind == 2) {  // stripes across the box, half duty
          inside = (((vertical ? x - x0 : y - y0) / std::max(1, period / 2)) % 2) == 0;
        }
        if (!inside) continue;
        uint8_t* p = image.at(x, y);
        for (int c = 0; c < 3; ++c) p[c] = uint8_t(p[c] + opacity * (rgb[c] - p[c]) + 0.5f);
      }
  }

  // Sensor noise, +-6 levels, from 8 random bytes per draw (each byte's value mod 13, by table).
  static const std::array<int8_t, 256> noise = [] {
    std::array<int8_t, 256> t{};
    for (int b = 0; b < 256; ++b) t[size_t(b)] = int8_t(b % 13 - 6);
    return t;
  }();
  uint8_t* p = image.pixels.data();
  const size_t n = image.pixels.size();
  for (size_t i = 0; i < n; i += 8) {
    uint64_t bits = rng.next_u64();
    for (size_t j = i; j < std::min(n, i + 8); ++j, bits >>= 8)
      p[j] = uint8_t(std::clamp(int(p[j]) + noise[bits & 0xff], 0, 255));
  }
  return image;
}

}  // namespace aslnet
