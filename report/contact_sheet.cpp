#include "report/contact_sheet.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "data/transforms.h"
#include "engine/core/error.h"

namespace aslnet {

namespace {

constexpr int kMargin = 10, kGap = 10;   // around the sheet, between tiles
constexpr int kLabelGap = 4;             // between a photo and its first label line
constexpr int kLineHeight = 14, kLineGap = 3;  // a label line at scale 2, and between the two lines
constexpr int kLabelHeight = 2 * kLineHeight + kLineGap;
const Rgb kInk{20, 20, 20}, kMiss{200, 40, 40}, kBox{225, 225, 225};

// The photo scaled so that its longer side is `side` (its shorter side at least one pixel).
Image fit(const Image& photo, int side) {
  const int longer = std::max(photo.width, photo.height);
  const int w = std::max(1, int(std::lround(double(photo.width) * side / longer)));
  const int h = std::max(1, int(std::lround(double(photo.height) * side / longer)));
  return resize(photo, w, h);
}

}  // namespace

std::string truth_label(const ContactSheetTile& tile) { return "TRUE " + tile.truth; }

std::string read_label(const ContactSheetTile& tile) {
  return "READ " + tile.predicted + " " + std::to_string(std::lround(100.0 * tile.confidence)) + "%";
}

int label_scale(const std::string& text, int width) { return Canvas::text_width(text, 2) <= width ? 2 : 1; }

ContactSheetGeometry contact_sheet_geometry(int tiles, const std::string& title, const ContactSheetLayout& layout) {
  ASLNET_CHECK(layout.thumbnail >= 16 && layout.columns >= 1)
      << "contact sheet: thumbnails of at least 16 pixels and one column, got " << layout.thumbnail << " and "
      << layout.columns;
  ContactSheetGeometry g;
  g.title_x = g.title_y = kMargin;
  const int title_bottom = kMargin + Canvas::text_height(g.title_scale) + kMargin;
  const int columns = std::max(1, std::min(layout.columns, tiles));
  const int rows = (tiles + columns - 1) / columns;
  const int pitch_x = layout.thumbnail + kGap;
  const int pitch_y = layout.thumbnail + kLabelGap + kLabelHeight + kGap;
  for (int i = 0; i < tiles; ++i) {
    const int x = kMargin + (i % columns) * pitch_x, y = title_bottom + (i / columns) * pitch_y;
    g.photos.push_back({x, y, layout.thumbnail, layout.thumbnail});
    g.labels.push_back({x, y + layout.thumbnail + kLabelGap, layout.thumbnail, kLabelHeight});
  }
  g.width = std::max(2 * kMargin + columns * pitch_x - kGap, 2 * kMargin + Canvas::text_width(title, g.title_scale));
  g.height = rows ? title_bottom + rows * pitch_y - kGap + kMargin : title_bottom;
  return g;
}

Image render_contact_sheet(const std::vector<ContactSheetTile>& tiles, const std::string& title,
                              const ContactSheetLayout& layout) {
  const ContactSheetGeometry g = contact_sheet_geometry(int(tiles.size()), title, layout);
  Canvas canvas(g.width, g.height);
  canvas.text(g.title_x, g.title_y, title, g.title_scale, kInk);
  for (size_t i = 0; i < tiles.size(); ++i) {
    const ContactSheetTile& tile = tiles[i];
    const SheetBox& box = g.photos[i];
    ASLNET_CHECK(tile.photo.width > 0 && tile.photo.height > 0 &&
                 tile.photo.pixels.size() == size_t(tile.photo.width) * size_t(tile.photo.height) * 3)
        << "contact sheet: tile " << i << " has no photo";
    canvas.fill(box.x, box.y, box.width, box.height, kBox);
    const Image thumb = fit(tile.photo, layout.thumbnail);
    const int left = box.x + (box.width - thumb.width) / 2, top = box.y + (box.height - thumb.height) / 2;
    for (int y = 0; y < thumb.height; ++y)
      for (int x = 0; x < thumb.width; ++x) {
        const uint8_t* p = thumb.pixels.data() + (size_t(y) * size_t(thumb.width) + size_t(x)) * 3;
        canvas.fill(left + x, top + y, 1, 1, {p[0], p[1], p[2]});
      }
    const SheetBox& label = g.labels[i];
    const std::string truth = truth_label(tile), read = read_label(tile);
    canvas.text(label.x, label.y, truth, label_scale(truth, label.width), kInk);
    canvas.text(label.x, label.y + kLineHeight + kLineGap, read, label_scale(read, label.width), kMiss);
  }
  return canvas.take();
}

void write_contact_sheet(const std::string& path, const std::vector<ContactSheetTile>& tiles,
                         const std::string& title, const ContactSheetLayout& layout, const std::string& flag) {
  write_png(path, render_contact_sheet(tiles, title, layout), flag);
}

}  // namespace aslnet
