// A contact sheet of photos a model misread: thumbnails in a grid, most telling first, each with two
// label lines under it ("TRUE A" in ink, "READ B 97%" in red: the true class, the predicted one and its
// probability), and a title line above the grid. Drawn with report/raster.h, so a person can see at a
// glance what fails (aslnet eval --misread-png).
#pragma once

#include <string>
#include <vector>

#include "data/jpeg.h"
#include "report/raster.h"

namespace aslnet {

struct ContactSheetTile {
  Image photo;  // any size: scaled to fit the thumbnail box, its aspect kept, centred on grey
  std::string truth, predicted;
  double confidence = 0;  // the predicted class's probability, in [0, 1]
};

struct ContactSheetLayout {
  int thumbnail = 120;  // side of each photo's square box, pixels ("READ H 93%" fits it at scale 2)
  int columns = 8;      // tiles per row (fewer when there are fewer tiles)
};

struct SheetBox {
  int x = 0, y = 0, width = 0, height = 0;
};

// Where everything goes: the picture's size, the title's corner, and each tile's photo box and label box
// (the two lines under the photo). A sheet without tiles is the title alone.
struct ContactSheetGeometry {
  int width = 0, height = 0;
  int title_x = 0, title_y = 0, title_scale = 2;
  std::vector<SheetBox> photos, labels;
};
ContactSheetGeometry contact_sheet_geometry(int tiles, const std::string& title, const ContactSheetLayout& layout);

// The two label lines of a tile, as drawn.
std::string truth_label(const ContactSheetTile& tile);  // "TRUE A"
std::string read_label(const ContactSheetTile& tile);   // "READ B 97%"

// The largest text scale (2 or 1) at which `text` fits `width` pixels.
int label_scale(const std::string& text, int width);

Image render_contact_sheet(const std::vector<ContactSheetTile>& tiles, const std::string& title,
                              const ContactSheetLayout& layout = {});

// render_contact_sheet + encode_png, written to `path`; errors name `flag` and the file.
void write_contact_sheet(const std::string& path, const std::vector<ContactSheetTile>& tiles,
                         const std::string& title, const ContactSheetLayout& layout, const std::string& flag);

}  // namespace aslnet
