#include "app/classify_files.h"

#include <algorithm>

#include "data/jpeg.h"
#include "serve/image_input.h"

namespace aslnet::app {

std::vector<FileResult> classify_files(Context& ctx, InferenceModel& m, const std::vector<std::string>& files,
                                       int64_t batch, TtaMode tta) {
  std::vector<FileResult> results(files.size());
  JpegDecoder decoder;
  const int decode_side = min_decode_side(m.image_size, /*train=*/false);
  for (size_t first = 0; first < files.size(); first += size_t(batch)) {
    const size_t count = std::min(files.size() - first, size_t(batch));
    std::vector<Image> photos;
    std::vector<size_t> readable;
    for (size_t i = first; i < first + count; ++i) {
      try {
        const std::vector<uint8_t> bytes = read_file_bytes(files[i]);
        // No pixel limit (0): a file on disk is the user's own, unlike an upload; the decoders still
        // refuse more than 16384 pixels a side.
        photos.push_back(serve::decode_upload(decoder, bytes.data(), bytes.size(), 0, decode_side, files[i]));
        readable.push_back(i);
      } catch (const DecodeError& e) {
        results[i].error = e.message();
      } catch (const serve::BadInput& e) {
        results[i].error = e.message();
      }
    }
    if (photos.empty()) continue;
    std::vector<std::vector<double>> probs = classify_photos(ctx, m, photos, tta);
    for (size_t j = 0; j < readable.size(); ++j) results[readable[j]].probabilities = std::move(probs[j]);
  }
  return results;
}

}  // namespace aslnet::app
