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
  size_t longest = 1;
  for (const auto& c : classes) longest = std::max(longest, c.size());
  const int left = kMargin + Canvas::text_width(std::string(longest, 'M'), kLabelScale) + kMargin;
  const int title_h = 7 * kLabelScale + 2 * kMargin;
  const int top = title_h + int(longest) * 9 * kLabelScale + kMargin;
  const int width = std::max(left + k * kCell + kMargin, kMargin + Canvas::text_width(title, kLabelScale) + kMargin);
  Canvas canvas(width, top + k * kCell + kMargin);

  const Rgb ink{20, 20, 20}, grid{225, 225, 225}, hit{30, 90, 200}, miss{200, 40, 40};
  canvas.text(kMargin, kMargin, title, kLabelScale, ink);
  for (int i = 0; i < k; ++i) {
    const std::string& name = classes[size_t(i)];
    canvas.text(left - kMargin - Canvas::text_width(name, kLabelScale), top + i * kCell + (kCell - 14) / 2, name,
                kLabelScale, ink);
    canvas.text(left + i * kCell + (kCell - 10) / 2, title_h, name, kLabelScale, ink, /*vertical=*/true);
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
