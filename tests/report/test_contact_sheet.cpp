// Tests of the misread contact sheet (report/contact_sheet.h): the picture's size and every tile's place
// worked out by hand for a small grid; photos scaled to fit their box with their aspect kept, centred on
// grey; both label lines drawn where the geometry says, pixel for pixel as the font draws them, and a
// different label gives different pixels; a sheet with no tiles is the title alone; the PNG written to
// disk decodes to the same size.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "report/contact_sheet.h"
#include "data/png_decode.h"
#include "engine/core/error.h"
#include "tests/test_util.h"

namespace aslnet {
namespace {

Image solid(int width, int height, uint8_t r, uint8_t g, uint8_t b) {
  Image image;
  image.width = width;
  image.height = height;
  for (int i = 0; i < width * height; ++i) image.pixels.insert(image.pixels.end(), {r, g, b});
  return image;
}

Rgb pixel(const Image& image, int x, int y) {
  const uint8_t* p = &image.pixels[(size_t(y) * size_t(image.width) + size_t(x)) * 3];
  return {p[0], p[1], p[2]};
}

bool same(Rgb a, Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

std::vector<ContactSheetTile> three_tiles() {
  return {{solid(80, 40, 0, 160, 0), "A", "nothing", 0.97},
          {solid(30, 60, 0, 0, 200), "B", "D", 0.5},
          {solid(50, 50, 250, 200, 0), "space", "Y", 0.123}};
}

// Three tiles, two columns of 40-pixel thumbnails. The title band is 10 + 14 + 10 = 34 pixels; tiles are
// 40 + 10 apart across, and 40 + 4 + (14 + 3 + 14) + 10 = 85 down; the sheet is 10 + 2 * 50 - 10 + 10 =
// 110 wide and 34 + 2 * 85 - 10 + 10 = 204 high.
TEST(ContactSheet, SizeAndPlacesFollowTheLayout) {
  const ContactSheetLayout layout{40, 2};
  const ContactSheetGeometry g = contact_sheet_geometry(3, "MISREAD", layout);
  EXPECT_EQ(g.width, 110);
  EXPECT_EQ(g.height, 204);
  ASSERT_EQ(g.photos.size(), 3u);
  EXPECT_EQ(g.photos[0].x, 10);
  EXPECT_EQ(g.photos[0].y, 34);
  EXPECT_EQ(g.photos[1].x, 60);
  EXPECT_EQ(g.photos[1].y, 34);
  EXPECT_EQ(g.photos[2].x, 10);
  EXPECT_EQ(g.photos[2].y, 119);
  EXPECT_EQ(g.labels[2].y, 119 + 40 + 4);
  const Image sheet = render_contact_sheet(three_tiles(), "MISREAD", layout);
  EXPECT_EQ(sheet.width, 110);
  EXPECT_EQ(sheet.height, 204);
  // A long title widens the sheet.
  EXPECT_EQ(contact_sheet_geometry(3, std::string(20, 'X'), layout).width, 10 + 20 * 12 + 10);
  // No tiles: the title band alone.
  const Image empty = render_contact_sheet({}, "NO MISREADS", layout);
  EXPECT_EQ(empty.height, 34);
  EXPECT_EQ(empty.width, 10 + 11 * 12 + 10);
}

TEST(ContactSheet, PhotosFitTheirBoxAndKeepTheirAspect) {
  const ContactSheetLayout layout{40, 2};
  const Image sheet = render_contact_sheet(three_tiles(), "MISREAD", layout);
  const ContactSheetGeometry g = contact_sheet_geometry(3, "MISREAD", layout);
  const Rgb grey{225, 225, 225};
  // Tile 0: 80x40 -> 40x20, rows 10..29 of its box green, the rows above and below grey.
  const SheetBox& a = g.photos[0];
  EXPECT_TRUE(same(pixel(sheet, a.x + 20, a.y + 20), {0, 160, 0}));
  EXPECT_TRUE(same(pixel(sheet, a.x, a.y + 10), {0, 160, 0}));
  EXPECT_TRUE(same(pixel(sheet, a.x + 39, a.y + 29), {0, 160, 0}));
  EXPECT_TRUE(same(pixel(sheet, a.x + 20, a.y + 9), grey));
  EXPECT_TRUE(same(pixel(sheet, a.x + 20, a.y + 30), grey));
  // Tile 1: 30x60 -> 20x40, columns 10..29 blue.
  const SheetBox& b = g.photos[1];
  EXPECT_TRUE(same(pixel(sheet, b.x + 10, b.y), {0, 0, 200}));
  EXPECT_TRUE(same(pixel(sheet, b.x + 29, b.y + 39), {0, 0, 200}));
  EXPECT_TRUE(same(pixel(sheet, b.x + 9, b.y + 20), grey));
  EXPECT_TRUE(same(pixel(sheet, b.x + 30, b.y + 20), grey));
  // Tile 2: square, fills its box.
  const SheetBox& c = g.photos[2];
  EXPECT_TRUE(same(pixel(sheet, c.x, c.y), {250, 200, 0}));
  EXPECT_TRUE(same(pixel(sheet, c.x + 39, c.y + 39), {250, 200, 0}));
}

TEST(ContactSheet, LabelsAreDrawnUnderEachPhoto) {
  const ContactSheetLayout layout{96, 8};
  const std::vector<ContactSheetTile> tiles = three_tiles();
  EXPECT_EQ(truth_label(tiles[0]), "TRUE A");
  EXPECT_EQ(read_label(tiles[0]), "READ nothing 97%");
  EXPECT_EQ(read_label(tiles[2]), "READ Y 12%");
  const Image sheet = render_contact_sheet(tiles, "MISREAD", layout);
  const ContactSheetGeometry g = contact_sheet_geometry(3, "MISREAD", layout);
  for (size_t i = 0; i < tiles.size(); ++i) {
    // The label box as the font draws the two lines on white: ink, then red.
    const SheetBox& box = g.labels[i];
    Canvas expected(box.width, box.height);
    const std::string truth = truth_label(tiles[i]), read = read_label(tiles[i]);
    expected.text(0, 0, truth, label_scale(truth, box.width), {20, 20, 20});
    expected.text(0, 17, read, label_scale(read, box.width), {200, 40, 40});
    const Image want = expected.take();
    int differing = 0, inked = 0, red = 0;
    for (int y = 0; y < box.height; ++y)
      for (int x = 0; x < box.width; ++x) {
        const Rgb got = pixel(sheet, box.x + x, box.y + y);
        differing += !same(got, pixel(want, x, y));
        inked += same(got, {20, 20, 20});
        red += same(got, {200, 40, 40});
      }
    EXPECT_EQ(differing, 0) << "tile " << i;
    EXPECT_GT(inked, 20) << "tile " << i;
    EXPECT_GT(red, 20) << "tile " << i;
  }
  // "TRUE A" fits a 96-pixel box at scale 2, "READ nothing 97%" only at scale 1.
  EXPECT_EQ(label_scale("TRUE A", 96), 2);
  EXPECT_EQ(label_scale("READ nothing 97%", 96), 1);
  // Another prediction draws other pixels in the label box, and only there.
  std::vector<ContactSheetTile> other = tiles;
  other[1].predicted = "K";
  const Image changed = render_contact_sheet(other, "MISREAD", layout);
  int changed_inside = 0, changed_outside = 0;
  const SheetBox& box = g.labels[1];
  for (int y = 0; y < sheet.height; ++y)
    for (int x = 0; x < sheet.width; ++x) {
      const bool inside = x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height;
      (inside ? changed_inside : changed_outside) += !same(pixel(sheet, x, y), pixel(changed, x, y));
    }
  EXPECT_GT(changed_inside, 0);
  EXPECT_EQ(changed_outside, 0);
}

TEST(ContactSheet, WritesAPngOfTheSheetsSize) {
  test::TempDir dir("contact");
  ASSERT_FALSE(dir.path.empty());
  const std::string path = (dir.path / "misread.png").string();
  write_contact_sheet(path, three_tiles(), "MISREAD", {40, 2}, "--misread-png");
  std::ifstream in(path, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const Image decoded = decode_png(bytes.data(), bytes.size(), path);
  EXPECT_EQ(decoded.width, 110);
  EXPECT_EQ(decoded.height, 204);
  try {
    write_contact_sheet((dir.path / "missing" / "x.png").string(), three_tiles(), "MISREAD", {40, 2}, "--misread-png");
    FAIL() << "wrote into a missing folder";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--misread-png"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace aslnet
