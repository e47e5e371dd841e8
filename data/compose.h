// Hand composition: hands photographed on a uniform dark background (Massey's gesture photos: a hand
// segmented on pure black) are cut out and pasted onto other backgrounds (room photos, or procedural
// clutter when there are none), so that a model trained on few walls sees hands in front of many. The
// loader decides which samples to compose; everything here is per image, and every random choice comes
// from the Rng passed in.
#pragma once

#include <cstdint>
#include <vector>

#include "data/jpeg.h"
#include "engine/core/rng.h"

namespace aslnet {

struct ComposeOptions {
  // A pixel belongs to the hand when its largest channel exceeds this (0-255): the backgrounds are black
  // up to JPEG noise, skin is far brighter even in shadow.
  int threshold = 40;
  // The hand's bounding box is scaled by a factor uniform in [scale_min, scale_max] times the largest
  // factor at which it still fits in the output (on a square output with a square box: the box's longer
  // side as a fraction of the output side). 0 < scale_min <= scale_max <= 1.
  double scale_min = 0.45, scale_max = 0.95;
  // Soft edge, in output pixels: alpha is min(1, d / (feather + 1)) where d is the (chamfer) distance from
  // a hand pixel to the nearest non-hand pixel, so it falls to 0 at the mask's edge, inside the hand: the
  // dark fringe the segmentation leaves around a hand never shows. 0 = a hard edge.
  int feather = 2;
  // The background is a random box of the foreground's aspect ratio covering background_scale_min..1 of
  // the largest such box that fits, resized to the foreground's size (a zoomed-in piece of the room, or
  // all of it). In (0, 1].
  double background_scale_min = 0.3;
  // A hand whose mask touches exactly one edge of its photo along an axis (the wrist leaving the frame) is
  // placed against the same edge of the output along that axis, so the arm does not end in mid-air;
  // otherwise (and when false) its position is uniform over the places where it fits.
  bool keep_edges = true;
};

// Throws aslnet::Error naming the first field out of range.
void check_compose_options(const ComposeOptions& options);

// Writes into `mask` (width * height values, 1 = hand, 0 = background) the pixels whose largest channel
// exceeds `threshold`, cleaned: only the largest 8-connected bright component is kept (specks of JPEG
// noise and dust go) and holes in it smaller than 1/400 of the image are filled (dark nails, shadows;
// the background seen through a ring of fingers is larger and stays background). Returns false, leaving
// the mask meaningless, when the image does not look like a hand on a uniform dark background: under 80%
// of the border pixels are dark (at most `threshold`), under 90% of the non-hand pixels are near black (at
// most threshold / 4: a dim room is dark but not black), or the mask covers under 1% or over 90% of the
// image. Callers leave such images alone.
bool hand_mask(const Image& image, int threshold, std::vector<uint8_t>& mask);

// The foreground's hand (mask != 0) pasted onto a random piece of `background`, as an image of the
// foreground's size: the hand's bounding box scaled by a random factor (see ComposeOptions::scale_*) with
// Pillow's bilinear resize, placed at a random position where it fits whole (or against the edge its
// wrist leaves by, see keep_edges), alpha-blended with the feathered mask. Draws, in order: the background
// box (scale, x, y), the hand's scale, its x and y.
Image compose_on_background(const Image& foreground, const std::vector<uint8_t>& mask, const Image& background,
                            const ComposeOptions& options, Rng& rng);

// A procedural stand-in for a room, for composing when no background photos are at hand: a linear
// gradient between two random colours in a random direction, 4 to 11 random rectangles, ellipses and
// stripe patches of random colours and opacities, and mild per-pixel noise (+-6 levels).
Image generated_clutter(int width, int height, Rng& rng);

}  // namespace aslnet
