// Synthetic ASL hands. A hand is a few signed-distance primitives in a "hand frame" (the palm's width is
// one unit, y points from the wrist to the fingertips): a forearm, a rounded palm, four fingers that are
// extended, curled into the palm or hooked (two segments), and a two-segment thumb. Each class fixes a
// configuration (table below); each image jitters it a little and then poses it at random. Primitives
// are painted back to front with analytic anti-aliasing (coverage = 0.5 - signed distance in pixels),
// and each one darkens towards its rim, so a finger folded over the palm still shows its outline.
//
// What is randomised, and why: a linear classifier on raw pixels must fail, so nothing global may carry
// the class. Pose (rotation, translation by up to 11% of the side, scale) moves the hand over much of
// the frame, skin tones run from pale to dark brown, and the background (a gradient with texture and
// sometimes one clutter shape) is darker than the skin in some images and lighter in others, so that
// the hand's silhouette has no fixed sign; the light varies in strength, colour and direction, and
// sensor noise is added. What is kept, so that a small ResNet learns the classes from 200 images each:
// the configuration's geometry, drawn large (the hand spans ~60% of the frame), classes that differ by
// whole fingers, thumb placements or wrist angles beyond the rotation jitter, and a clear outline (the
// background and clutter stay 80 luma levels or more from the skin). Wilder scenes (gloves of any
// colour, clutter as bright as the skin) made the hands much harder to learn for little gain against a
// linear probe: tests/data/test_synth.cpp measures both.
#include "data/synth.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "data/classes.h"

namespace aslnet {

namespace {

constexpr double kPi = 3.14159265358979323846;
double radians(double degrees) { return degrees * kPi / 180.0; }

struct Vec2 {
  double x = 0, y = 0;
};
Vec2 operator+(Vec2 a, Vec2 b) { return {a.x + b.x, a.y + b.y}; }
Vec2 operator-(Vec2 a, Vec2 b) { return {a.x - b.x, a.y - b.y}; }
Vec2 operator*(Vec2 a, double s) { return {a.x * s, a.y * s}; }
double dot(Vec2 a, Vec2 b) { return a.x * b.x + a.y * b.y; }
double length(Vec2 a) { return std::sqrt(dot(a, a)); }
// The unit vector at `degrees` from the hand's up direction, positive towards the thumb (to the left).
Vec2 direction(double degrees) { return {-std::sin(radians(degrees)), std::cos(radians(degrees))}; }

using Color = std::array<double, 3>;

// ---- The classes ----------------------------------------------------------------------------------

enum class Finger { kExtended, kCurled, kHooked };
enum class ThumbLayer { kHidden, kBehind, kFront };  // behind or in front of the palm and fingers

struct FingerPose {
  Finger state = Finger::kCurled;
  double angle = 0;  // degrees from the hand's up direction, positive towards the thumb
  double bend = 0;   // hooked: the tip segment's turn, degrees, positive towards the thumb
};

struct HandConfig {
  bool hand = true;         // false: background only ("nothing")
  double wrist = 0;         // the whole hand's angle in the image, degrees counter-clockwise (90: pointing left)
  FingerPose fingers[4];    // index, middle, ring, little
  ThumbLayer thumb = ThumbLayer::kHidden;
  double thumb_angle = 0, thumb_bend = 0, thumb_length = 0.8;
  double thumb_base_y = -0.1;  // where the thumb leaves the palm's side
};

constexpr Finger E = Finger::kExtended, C = Finger::kCurled, H = Finger::kHooked;

HandConfig hand(double wrist, std::array<FingerPose, 4> f, ThumbLayer layer, double angle, double bend, double len,
                double base_y = -0.1) {
  HandConfig c;
  c.wrist = wrist;
  for (int i = 0; i < 4; ++i) c.fingers[i] = f[size_t(i)];
  c.thumb = layer;
  c.thumb_angle = angle;
  c.thumb_bend = bend;
  c.thumb_length = len;
  c.thumb_base_y = base_y;
  return c;
}

// Thumb placements used by several classes.
constexpr ThumbLayer Front = ThumbLayer::kFront, Behind = ThumbLayer::kBehind, Hidden = ThumbLayer::kHidden;

// One configuration per class, in asl_classes() order. Loosely after the ASL alphabet, but chosen first
// to be told apart: every pair differs in a whole finger, the thumb's placement or a wrist angle well
// beyond the +-15 degree rotation jitter.
const std::vector<HandConfig>& class_configs() {
  static const std::vector<HandConfig> configs = [] {
    const FingerPose c{C}, fist[4] = {c, c, c, c};
    std::vector<HandConfig> v;
    // A: fist, thumb up along its side.
    v.push_back(hand(0, {fist[0], fist[1], fist[2], fist[3]}, Front, 8, -4, 0.8));
    // B: flat hand, fingers together, thumb folded across the palm.
    v.push_back(hand(0, {{{E, 2}, {E, 0.5}, {E, -1}, {E, -3}}}, Front, -78, 0, 0.75, -0.2));
    // C: every finger and the thumb curved towards each other, tilted: a "C" opening to the left.
    v.push_back(hand(45, {{{H, 6, 75}, {H, 2, 75}, {H, -1, 75}, {H, -4, 75}}}, Behind, 75, -65, 0.95));
    // D: index up, thumb across to the middle finger.
    v.push_back(hand(0, {{{E, 0}, c, c, c}}, Front, -62, 0, 0.72));
    // E: all fingers folded over at the middle joint, thumb low across the palm.
    v.push_back(hand(0, {{{H, 2, 165}, {H, 0, 165}, {H, -2, 165}, {H, -4, 165}}}, Front, -82, 0, 0.8, -0.3));
    // F: index and thumb touching in a ring, three fingers up and spread.
    v.push_back(hand(0, {{{H, 4, 115}, {E, 2}, {E, -9}, {E, -19}}}, Behind, 38, -55, 0.95));
    // G: pointing left, index and thumb parallel.
    v.push_back(hand(100, {{{E, 0}, c, c, c}}, Behind, 22, 0, 0.9));
    // H: pointing left, index and middle together, thumb across.
    v.push_back(hand(90, {{{E, 1}, {E, -1}, c, c}}, Front, -70, 0, 0.75));
    // I: little finger up, thumb across.
    v.push_back(hand(0, {{c, c, c, {E, -4}}}, Front, -70, 0, 0.75));
    // J: little finger up, tilted right, thumb up along the fist.
    v.push_back(hand(-45, {{c, c, c, {E, -10}}}, Front, 8, -4, 0.8));
    // K: index and middle in a wide V, thumb up between them.
    v.push_back(hand(0, {{{E, 13}, {E, -13}, c, c}}, Front, -18, 0, 1.0));
    // L: index up, thumb straight out: an "L".
    v.push_back(hand(0, {{{E, 0}, c, c, c}}, Behind, 85, 0, 1.0));
    // M: fist pointing down (the forearm comes from above), thumb along its side.
    v.push_back(hand(180, {fist[0], fist[1], fist[2], fist[3]}, Front, 8, -4, 0.8));
    // N: fist pointing right (the forearm comes from the left), thumb across.
    v.push_back(hand(-90, {fist[0], fist[1], fist[2], fist[3]}, Front, -78, 0, 0.8, 0.0));
    // O: fingers and thumb curved into a closed ring, upright.
    v.push_back(hand(0, {{{H, 8, 105}, {H, 3, 105}, {H, -2, 105}, {H, -6, 105}}}, Behind, 42, -75, 0.95));
    // P: K pointing down.
    v.push_back(hand(180, {{{E, 13}, {E, -13}, c, c}}, Front, -18, 0, 1.0));
    // Q: G pointing down.
    v.push_back(hand(180, {{{E, 0}, c, c, c}}, Behind, 22, 0, 0.9));
    // R: index and middle crossed, thumb across.
    v.push_back(hand(0, {{{E, -22}, {E, 22}, c, c}}, Front, -70, 0, 0.75));
    // S: fist, thumb across the front of the folded fingers.
    v.push_back(hand(0, {fist[0], fist[1], fist[2], fist[3]}, Front, -80, 0, 0.85, 0.05));
    // T: fist, thumb tip poking up between index and middle.
    v.push_back(hand(0, {fist[0], fist[1], fist[2], fist[3]}, Front, -20, 0, 0.78));
    // U: index and middle up together, thumb across.
    v.push_back(hand(0, {{{E, 0}, {E, 0}, c, c}}, Front, -70, 0, 0.75));
    // V: index and middle in a V, thumb across.
    v.push_back(hand(0, {{{E, 15}, {E, -15}, c, c}}, Front, -70, 0, 0.75));
    // W: three fingers spread, thumb across.
    v.push_back(hand(0, {{{E, 17}, {E, 0}, {E, -17}, c}}, Front, -70, 0, 0.75));
    // X: index hooked, thumb across.
    v.push_back(hand(0, {{{H, 0, 110}, c, c, c}}, Front, -70, 0, 0.75));
    // Y: thumb and little finger spread out wide.
    v.push_back(hand(0, {{c, c, c, {E, -32}}}, Behind, 85, 0, 1.0));
    // Z: index up, tilted left, thumb across.
    v.push_back(hand(50, {{{E, 0}, c, c, c}}, Front, -62, 0, 0.72));
    // del: open hand, every finger spread, thumb out.
    v.push_back(hand(0, {{{E, 25}, {E, 8}, {E, -8}, {E, -25}}}, Behind, 62, 0, 1.0));
    // nothing: background only.
    {
      HandConfig n;
      n.hand = false;
      v.push_back(n);
    }
    // space: flat hand pointing left, thumb up.
    v.push_back(hand(90, {{{E, 2}, {E, 0.5}, {E, -1}, {E, -3}}}, Behind, 55, 0, 0.9));
    return v;
  }();
  return configs;
}

// ---- Drawing ----------------------------------------------------------------------------------------

// A painted primitive: a (tapered) capsule from a to b, or a rounded box centred on a with half-size b
// and corner radius ra. Coordinates in the frame its transform maps pixels into.
struct Shape {
  enum Kind { kCapsule, kBox, kEllipse } kind = kCapsule;
  Vec2 a, b;
  double ra = 0, rb = 0;
  Color color{};
  double alpha = 1.0;  // opacity at full coverage
  double rim = 0;      // darkening at the rim, 0..1 (0: flat colour)
  double rim_width = 1;  // depth (frame units) over which the rim fades in

  double distance(Vec2 p) const {
    switch (kind) {
      case kCapsule: {
        const Vec2 ab = b - a, ap = p - a;
        const double h = std::clamp(dot(ap, ab) / std::max(dot(ab, ab), 1e-12), 0.0, 1.0);
        return length(ap - ab * h) - (ra + (rb - ra) * h);
      }
      case kBox: {
        const double qx = std::abs(p.x - a.x) - (b.x - ra), qy = std::abs(p.y - a.y) - (b.y - ra);
        const double outside = std::sqrt(std::max(qx, 0.0) * std::max(qx, 0.0) + std::max(qy, 0.0) * std::max(qy, 0.0));
        return outside + std::min(std::max(qx, qy), 0.0) - ra;
      }
      case kEllipse: {
        // An approximation (exact on the axes) that keeps the anti-aliased edge about one pixel wide.
        const double dx = (p.x - a.x) / b.x, dy = (p.y - a.y) / b.y;
        return (std::sqrt(dx * dx + dy * dy) - 1.0) * std::min(b.x, b.y);
      }
    }
    return 1e9;
  }
  // A bounding box in the shape's frame.
  void bounds(Vec2& lo, Vec2& hi) const {
    if (kind == kCapsule) {
      const double r = std::max(ra, rb);
      lo = {std::min(a.x, b.x) - r, std::min(a.y, b.y) - r};
      hi = {std::max(a.x, b.x) + r, std::max(a.y, b.y) + r};
    } else {
      lo = a - b;
      hi = a + b;
    }
  }
};

// Pixel (x, y) centre -> frame: p = R(-angle) * ((x + 0.5, y + 0.5) - centre) / scale, with the frame's
// y axis pointing up (so a positive angle turns the drawing counter-clockwise on screen).
struct Transform {
  double cx = 0, cy = 0, scale = 1, cos_a = 1, sin_a = 0;
  Transform() = default;
  Transform(double cx_, double cy_, double scale_, double degrees)
      : cx(cx_), cy(cy_), scale(scale_), cos_a(std::cos(radians(degrees))), sin_a(std::sin(radians(degrees))) {}
  Vec2 to_frame(double px, double py) const {
    const double dx = (px - cx) / scale, dy = -(py - cy) / scale;
    return {cos_a * dx + sin_a * dy, -sin_a * dx + cos_a * dy};
  }
  Vec2 to_pixel(Vec2 p) const {
    const double dx = cos_a * p.x - sin_a * p.y, dy = sin_a * p.x + cos_a * p.y;
    return {cx + dx * scale, cy - dy * scale};
  }
};

// A float RGB canvas (0..255, may stray outside until the final rounding).
struct Canvas {
  int size;
  std::vector<float> rgb;
  explicit Canvas(int s) : size(s), rgb(size_t(s) * size_t(s) * 3, 0.0f) {}
  float* at(int x, int y) { return rgb.data() + (size_t(y) * size_t(size) + size_t(x)) * 3; }
};

void paint(Canvas& canvas, const Shape& shape, const Transform& t) {
  Vec2 lo, hi;
  shape.bounds(lo, hi);
  double x0 = 1e30, y0 = 1e30, x1 = -1e30, y1 = -1e30;
  for (const Vec2 corner : {lo, hi, Vec2{lo.x, hi.y}, Vec2{hi.x, lo.y}}) {
    const Vec2 p = t.to_pixel(corner);
    x0 = std::min(x0, p.x), x1 = std::max(x1, p.x), y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
  }
  const int n = canvas.size;
  const int ix0 = std::max(0, int(std::floor(x0)) - 1), ix1 = std::min(n - 1, int(std::ceil(x1)) + 1);
  const int iy0 = std::max(0, int(std::floor(y0)) - 1), iy1 = std::min(n - 1, int(std::ceil(y1)) + 1);
  for (int y = iy0; y <= iy1; ++y) {
    for (int x = ix0; x <= ix1; ++x) {
      const double d = shape.distance(t.to_frame(x + 0.5, y + 0.5));
      const double coverage = std::clamp(0.5 - d * t.scale, 0.0, 1.0);
      if (coverage <= 0.0) continue;
      double shade = 1.0;
      if (shape.rim > 0) {
        // Rounded-body shading: dark at the rim, full colour from rim_width inside.
        const double depth = std::clamp(-d / shape.rim_width, 0.0, 1.0);
        shade = 1.0 - shape.rim * (1.0 - std::sqrt(depth));
      }
      const double a = coverage * shape.alpha;
      float* px = canvas.at(x, y);
      for (int c = 0; c < 3; ++c) px[c] = float(px[c] + a * (shape.color[size_t(c)] * shade - px[c]));
    }
  }
}

// Rec. 601 luma, 0..255.
double luminance(const Color& c) { return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]; }

// How far (in luma) the background and clutter stay from the skin, on one side of it per image.
constexpr double kLumaSeparation = 80;

double color_distance(const Color& a, const Color& b) {
  double s = 0;
  for (int c = 0; c < 3; ++c) s += (a[size_t(c)] - b[size_t(c)]) * (a[size_t(c)] - b[size_t(c)]);
  return std::sqrt(s);
}

Color random_color(Rng& rng) { return {rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)}; }

// A colour at least `min_distance` from `avoid` (a sleeve that differs from the skin).
Color color_away_from(Rng& rng, const Color& avoid, double min_distance) {
  for (int attempt = 0; attempt < 64; ++attempt) {
    const Color c = random_color(rng);
    if (color_distance(c, avoid) >= min_distance) return c;
  }
  Color c;  // unreachable in practice: the complement is always far enough
  for (int i = 0; i < 3; ++i) c[size_t(i)] = avoid[size_t(i)] < 128 ? 230 : 25;
  return c;
}

// Skin from pale to dark brown with a random tint. (No gloves of arbitrary colour: with them a hand could
// be any colour at all, and 200 images per class no longer teach a small network the shapes.)
Color skin_color(Rng& rng) {
  const Color pale{250, 215, 185}, dark{85, 52, 35};
  const double t = rng.uniform();
  Color c;
  for (int i = 0; i < 3; ++i) c[size_t(i)] = pale[size_t(i)] + t * (dark[size_t(i)] - pale[size_t(i)]) + rng.uniform(-18, 18);
  return c;
}

// A colour whose luma lies on `side` (+1 lighter, -1 darker) of the skin's by kLumaSeparation or more,
// and at least `min_distance` from it in RGB.
Color color_on_side(Rng& rng, const Color& skin, int side, double min_distance) {
  const double skin_luma = luminance(skin);
  for (int attempt = 0; attempt < 256; ++attempt) {
    const Color c = random_color(rng);
    if ((luminance(c) - skin_luma) * side >= kLumaSeparation && color_distance(c, skin) >= min_distance) return c;
  }
  const double v = side > 0 ? 250 : 5;  // unreachable in practice: the band is never empty
  return {v, v, v};
}

// Which side of the skin's luma the scene takes: either where both are possible (so that neither
// "light hand on dark ground" nor the reverse is a class cue), the only one possible otherwise.
int background_side(Rng& rng, const Color& skin) {
  const double skin_luma = luminance(skin);
  const bool can_dark = skin_luma - kLumaSeparation > 15, can_light = skin_luma + kLumaSeparation < 240;
  return can_light && (!can_dark || rng.uniform() < 0.5) ? 1 : -1;
}

// Background: a two-colour gradient, smooth value-noise texture and at most one opaque or translucent
// shape (an ellipse, a box or a bar). All of it lies on one side of the skin's luma, so the hand's
// outline always shows; which side varies from image to image.
void paint_background(Canvas& canvas, Rng& rng, const Color& skin) {
  const int n = canvas.size;
  const int side = background_side(rng, skin);
  const Color c0 = color_on_side(rng, skin, side, 110), c1 = color_on_side(rng, skin, side, 110);
  const double g = radians(rng.uniform(0, 360)), gx = std::cos(g), gy = std::sin(g);
  constexpr int kGrid = 6;
  double noise[kGrid + 1][kGrid + 1];
  const double texture = rng.uniform(0, 10);
  for (auto& row : noise)
    for (double& v : row) v = rng.uniform(-1, 1) * texture;
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      const double u = (x + 0.5) / n, v = (y + 0.5) / n;
      const double t = std::clamp(0.5 + (u - 0.5) * gx + (v - 0.5) * gy, 0.0, 1.0);
      const double gu = u * kGrid, gv = v * kGrid;
      const int i = std::min(int(gu), kGrid - 1), j = std::min(int(gv), kGrid - 1);
      double fu = gu - i, fv = gv - j;
      fu = fu * fu * (3 - 2 * fu), fv = fv * fv * (3 - 2 * fv);
      const double tex = (noise[j][i] * (1 - fu) + noise[j][i + 1] * fu) * (1 - fv) +
                         (noise[j + 1][i] * (1 - fu) + noise[j + 1][i + 1] * fu) * fv;
      float* px = canvas.at(x, y);
      for (int c = 0; c < 3; ++c) px[c] = float(c0[size_t(c)] + t * (c1[size_t(c)] - c0[size_t(c)]) + tex);
    }
  }
  // Clutter, in a frame of unit = image side.
  const Transform frame(0, 0, n, 0);
  const int shapes = int(rng.below(2));
  for (int k = 0; k < shapes; ++k) {
    Shape s;
    const double kind = rng.uniform();
    const Vec2 centre{rng.uniform(-0.1, 1.1), -rng.uniform(-0.1, 1.1)};
    if (kind < 0.4) {
      s.kind = Shape::kEllipse;
      s.a = centre;
      s.b = {rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.3)};
    } else if (kind < 0.7) {
      s.kind = Shape::kBox;
      s.a = centre;
      s.b = {rng.uniform(0.06, 0.35), rng.uniform(0.06, 0.35)};
      s.ra = rng.uniform(0.0, 0.04);
    } else {
      // A wide bar across the frame (a table edge, a door frame): much wider than any finger.
      s.kind = Shape::kCapsule;
      const double angle = rng.uniform(0, kPi), half = 0.9;
      const Vec2 d{std::cos(angle) * half, std::sin(angle) * half};
      s.a = centre - d;
      s.b = centre + d;
      s.ra = s.rb = rng.uniform(0.06, 0.16);
    }
    s.color = color_on_side(rng, skin, side, 90);
    s.alpha = rng.uniform() < 0.5 ? 1.0 : rng.uniform(0.3, 0.8);
    paint(canvas, s, frame);
  }
}

double jitter(Rng& rng, double amount) { return rng.uniform(-amount, amount); }

void paint_hand(Canvas& canvas, Rng& rng, const HandConfig& cfg, const Color& skin) {
  const int n = canvas.size;
  // Pose: the point between palm and fingertips lands near the centre; the hand spans ~50-75% of the frame.
  const double scale = n * rng.uniform(0.32, 0.4);
  const double angle = cfg.wrist + jitter(rng, 12);
  const double offset_x = jitter(rng, 0.11) * n, offset_y = jitter(rng, 0.11) * n;
  // The hand frame's origin is the palm's centre; put (0, 0.45) (between palm and fingertips) at the target.
  const Transform probe(0, 0, scale, angle);
  const Vec2 anchor = probe.to_pixel({0, 0.45});
  const Transform t(n * 0.5 + offset_x - anchor.x, n * 0.5 + offset_y - anchor.y, scale, angle);

  // Per-image anatomy: palm proportions, finger thickness and lengths vary a little.
  const double palm_w = 0.5 * (1 + jitter(rng, 0.06)), palm_h = 0.5 * (1 + jitter(rng, 0.08));
  const double finger_r = 0.11 * (1 + jitter(rng, 0.1));
  const double lengths[4] = {0.82, 0.92, 0.85, 0.66};
  const double base_x[4] = {-0.36, -0.12, 0.12, 0.36};
  const double rim = rng.uniform(0.25, 0.4);
  const Color shadow_skin{skin[0] * 0.88, skin[1] * 0.88, skin[2] * 0.88};

  auto capsule = [&](Vec2 a, Vec2 b, double ra, double rb, const Color& color) {
    Shape s;
    s.kind = Shape::kCapsule;
    s.a = a, s.b = b, s.ra = ra, s.rb = rb;
    s.color = color;
    s.rim = rim;
    s.rim_width = std::max(ra, rb);
    return s;
  };

  std::vector<Shape> back;  // painted before the fingers and the palm
  // Forearm (sometimes in a sleeve of any colour), running out of the frame.
  const Color sleeve = rng.uniform() < 0.1 ? color_away_from(rng, skin, 60) : skin;
  back.push_back(capsule({0, -0.2}, {0, -3.5}, 0.36, 0.44, skin));
  if (sleeve != skin) back.push_back(capsule({0, -1.1 - rng.uniform(0, 0.4)}, {0, -3.5}, 0.43, 0.5, sleeve));
  back.back().rim = 0.2;

  // Thumb: two segments from the palm's side.
  std::vector<Shape> thumb;
  if (cfg.thumb != ThumbLayer::kHidden) {
    const double a1 = cfg.thumb_angle + jitter(rng, 6), a2 = a1 + cfg.thumb_bend + jitter(rng, 8);
    const double len = cfg.thumb_length * (1 + jitter(rng, 0.06));
    const Vec2 base{-palm_w * 0.85, cfg.thumb_base_y};
    const Vec2 joint = base + direction(a1) * (0.5 * len), tip = joint + direction(a2) * (0.5 * len);
    thumb.push_back(capsule(base, joint, 0.15, 0.13, skin));
    thumb.push_back(capsule(joint, tip, 0.13, 0.11, skin));
  }
  if (cfg.thumb == ThumbLayer::kBehind) back.insert(back.end(), thumb.begin(), thumb.end());

  // Fingers: extended and hooked ones behind the palm (its top edge covers their roots); curled ones
  // as a knuckle above the palm's edge plus the folded finger painted over the palm.
  std::vector<Shape> fingers, folded;
  for (int i = 0; i < 4; ++i) {
    const FingerPose& f = cfg.fingers[i];
    const double len = lengths[i] * (1 + jitter(rng, 0.06));
    const Vec2 base{base_x[i] * palm_w * 2, palm_h - 0.08};
    if (f.state == Finger::kCurled) {
      fingers.push_back(capsule(base, base + Vec2{0, 0.12}, finger_r * 1.15, finger_r * 1.1, skin));
      folded.push_back(capsule(base + Vec2{0, 0.08}, base - Vec2{0, 0.32}, finger_r * 1.05, finger_r, skin));
      continue;
    }
    const double a = f.angle + jitter(rng, 4);
    if (f.state == Finger::kExtended) {
      fingers.push_back(capsule(base, base + direction(a) * len, finger_r, finger_r * 0.85, skin));
    } else {
      const Vec2 joint = base + direction(a) * (0.5 * len);
      const Vec2 tip = joint + direction(a + f.bend + jitter(rng, 10)) * (0.42 * len);
      fingers.push_back(capsule(base, joint, finger_r * 1.05, finger_r, skin));
      fingers.push_back(capsule(joint, tip, finger_r, finger_r * 0.85, skin));
    }
  }
  for (const Shape& s : back) paint(canvas, s, t);
  for (const Shape& s : fingers) paint(canvas, s, t);
  Shape palm;
  palm.kind = Shape::kBox;
  palm.a = {0, 0};
  palm.b = {palm_w, palm_h};
  palm.ra = 0.22;
  palm.color = skin;
  palm.rim = rim;
  palm.rim_width = 0.3;
  paint(canvas, palm, t);
  for (Shape s : folded) {
    s.color = shadow_skin;  // the folded fingers sit in the palm's shade
    paint(canvas, s, t);
  }
  if (cfg.thumb == ThumbLayer::kFront)
    for (const Shape& s : thumb) paint(canvas, s, t);
}

// Light: overall brightness, a colour cast and a linear falloff in a random direction; then sensor
// noise and rounding to 8 bits.
Image finish(Canvas& canvas, Rng& rng) {
  const int n = canvas.size;
  const double brightness = rng.uniform(0.7, 1.2);
  const double cast[3] = {rng.uniform(0.88, 1.12), rng.uniform(0.88, 1.12), rng.uniform(0.88, 1.12)};
  const double la = radians(rng.uniform(0, 360)), strength = rng.uniform(0, 0.4);
  const double lx = std::cos(la) * strength, ly = std::sin(la) * strength;
  const double sigma = rng.uniform(1, 4);
  Image image;
  image.width = image.height = n;
  image.pixels.resize(size_t(n) * size_t(n) * 3);
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      const double light = brightness * (1 + 2 * (((x + 0.5) / n - 0.5) * lx + ((y + 0.5) / n - 0.5) * ly));
      const float* src = canvas.at(x, y);
      uint8_t* dst = image.at(x, y);
      for (int c = 0; c < 3; ++c) {
        const double v = src[c] * light * cast[c] + sigma * rng.normal();
        dst[c] = uint8_t(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  }
  return image;
}

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

Image render_synthetic_hand(int label, int size, Rng& rng) {
  const auto& configs = class_configs();
  ASLNET_CHECK(label >= 0 && label < int(configs.size())) << "synthetic class " << label << " out of range [0, "
                                                          << configs.size() << ")";
  ASLNET_CHECK(size >= 8 && size <= 4096) << "synthetic image size " << size << " out of range [8, 4096]";
  const HandConfig& cfg = configs[size_t(label)];
  Canvas canvas(size);
  const Color skin = skin_color(rng);
  paint_background(canvas, rng, skin);
  if (cfg.hand) paint_hand(canvas, rng, cfg, skin);
  return finish(canvas, rng);
}

Rng synthetic_image_rng(uint64_t seed, int label, int index) {
  // Hash the triple rather than feed it to Rng's stream directly, so that nearby seeds, labels and
  // indices give unrelated streams.
  const uint64_t key = mix64(mix64(seed + 0x51ed2701) ^ (uint64_t(uint32_t(label)) << 32 | uint32_t(index)));
  return Rng(key, /*stream=*/0x5eed);
}

void write_synthetic_dataset(const std::string& out_dir, const SynthOptions& options) {
  namespace fs = std::filesystem;
  ASLNET_CHECK(options.per_class > 0) << "--per-class must be positive (got " << options.per_class << ")";
  ASLNET_CHECK(options.size >= 8 && options.size <= 4096) << "--size must be in [8, 4096] (got " << options.size << ")";
  ASLNET_CHECK(options.quality >= 1 && options.quality <= 100)
      << "--quality must be in [1, 100] (got " << options.quality << ")";
  const fs::path root(out_dir);
  std::error_code ec;
  if (fs::exists(root, ec)) {
    ASLNET_CHECK(fs::is_directory(root, ec)) << "--out " << out_dir << " exists and is not a folder";
    for (const auto& entry : fs::directory_iterator(root)) {
      if (!entry.is_directory() || asl_class_index(entry.path().filename().string()) < 0) continue;
      ASLNET_CHECK(fs::is_empty(entry.path()))
          << "--out " << out_dir << " already holds a data set (" << entry.path().string()
          << " has files); choose a new or empty folder so that two data sets are not mixed";
    }
  }
  const auto& classes = asl_classes();
  for (const auto& name : classes) {
    fs::create_directories(root / name, ec);
    ASLNET_CHECK(!ec) << "cannot create " << (root / name).string() << ": " << ec.message();
  }

  // Work items are (label, index) pairs taken in order from a shared counter; each image has its own
  // random stream, so which thread draws it does not matter.
  const int64_t total = int64_t(classes.size()) * options.per_class;
  std::atomic<int64_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto worker = [&] {
    try {
      for (int64_t item = next++; item < total; item = next++) {
        const int label = int(item / options.per_class), index = int(item % options.per_class);
        Rng rng = synthetic_image_rng(options.seed, label, index);
        const Image image = render_synthetic_hand(label, options.size, rng);
        const std::string& name = classes[size_t(label)];
        write_jpeg((root / name / (name + std::to_string(index + 1) + ".jpg")).string(), image, options.quality);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_mutex);
      if (!failure) failure = std::current_exception();
      next = total;  // the others stop after their current image
    }
  };
  const int threads = int(std::clamp<unsigned>(std::thread::hardware_concurrency(), 1u, 8u));
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (auto& thread : pool) thread.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace aslnet
