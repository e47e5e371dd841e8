// libFuzzer target: aslnet serve's upload path (serve/image_input.h), what any HTTP client can send:
// JPEG or PNG bytes (or anything else) decoded with the server's pixel limit. Every input must end in
// an image or a BadInput/Error, never a crash, a leak or undefined behaviour. scripts/fuzz.sh runs it.
#include <cstddef>
#include <cstdint>

#include "serve/image_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static aslnet::JpegDecoder decoder;
  try {
    // A small pixel limit keeps each run fast; the header check that enforces it is what is fuzzed.
    aslnet::serve::decode_upload(decoder, data, size, /*max_pixels=*/1 << 20, /*min_side=*/32, "image");
  } catch (const aslnet::Error&) {
  }
  return 0;
}
