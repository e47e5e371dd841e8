// The confusion-matrix picture, drawn with report/raster.h.
#include "report/confusion_png.h"

#include <algorithm>

#include "engine/core/error.h"

namespace aslnet {

Image render_confusion(const std::vector<std::string>& classes, const std::vector<int64_t>& confusion,
                          const std::string& title) {
  const int k = int(classes.size());
  ASLNET_CHECK(k > 0 && confusion.size() == size_t(k) * size_t(k))
      << "render_confusion: " << k << " classes need a " << k << "x" << k << " matrix, got "
      << confusion.size() << " counts";
  constexpr int kCell = 24, kLabelScale = 2, kMargin = 10;
  const std::string predicted_title = "predicted class", true_title = "true class";
  const int char_h = Canvas::text_height(kLabelScale), stacked = 9 * kLabelScale;  // a vertical text's step
  size_t longest = 1;
  for (const auto& c : classes) longest = std::max(longest, c.size());
  // Left to right: the "true class" title (stacked downwards), the row names, the cells. Top to bottom:
  // the title, the "predicted class" title, the column names (stacked), the cells.
  const int left = kMargin + char_h + kMargin + Canvas::text_width(std::string(longest, 'M'), kLabelScale) + kMargin;
  const int title_h = char_h + 2 * kMargin;
  const int columns_y = title_h + char_h + kMargin;
  const int top = columns_y + int(longest) * stacked + kMargin;
  const int matrix = k * kCell;
  const int true_title_h = int(true_title.size()) * stacked;
  const int width = std::max({left + matrix + kMargin, kMargin + Canvas::text_width(title, kLabelScale) + kMargin,
                              left + Canvas::text_width(predicted_title, kLabelScale) + kMargin});
  Canvas canvas(width, top + std::max(matrix, true_title_h) + kMargin);

  const Rgb ink{20, 20, 20}, axis{90, 90, 90}, grid{225, 225, 225}, hit{30, 90, 200}, miss{200, 40, 40};
  canvas.text(kMargin, kMargin, title, kLabelScale, ink);
  // The axis titles, centred on the matrix (the predicted one at least at its left edge).
  canvas.text(left + std::max(0, (matrix - Canvas::text_width(predicted_title, kLabelScale)) / 2), title_h,
              predicted_title, kLabelScale, axis);
  canvas.text(kMargin, top + std::max(0, (matrix - true_title_h) / 2), true_title, kLabelScale, axis,
              /*vertical=*/true);
  for (int i = 0; i < k; ++i) {
    const std::string& name = classes[size_t(i)];
    canvas.text(left - kMargin - Canvas::text_width(name, kLabelScale), top + i * kCell + (kCell - 14) / 2, name,
                kLabelScale, ink);
    canvas.text(left + i * kCell + (kCell - 10) / 2, columns_y, name, kLabelScale, ink, /*vertical=*/true);
  }
  for (int t = 0; t < k; ++t) {
    int64_t row_total = 0;
    for (int p = 0; p < k; ++p) row_total += confusion[size_t(t * k + p)];
    for (int p = 0; p < k; ++p) {
      const int64_t n = confusion[size_t(t * k + p)];
      const double f = row_total ? double(n) / double(row_total) : 0.0;
      const Rgb base = t == p ? hit : miss;
      const int x = left + p * kCell, y = top + t * kCell;
      canvas.fill(x, y, kCell, kCell, grid);
      canvas.fill(x + 1, y + 1, kCell - 1, kCell - 1, {blend(base.r, f), blend(base.g, f), blend(base.b, f)});
      if (n > 0 && n < 1000) {
        const std::string s = std::to_string(n);
        canvas.text(x + (kCell - Canvas::text_width(s, 1)) / 2 + 1, y + (kCell - 7) / 2, s, 1,
                    f > 0.5 ? Rgb{255, 255, 255} : ink);
      }
    }
  }
  return canvas.take();
}

void write_confusion_png(const std::string& path, const std::vector<std::string>& classes,
                         const std::vector<int64_t>& confusion, const std::string& title) {
  write_png(path, render_confusion(classes, confusion, title), "--png");
}

}  // namespace aslnet
