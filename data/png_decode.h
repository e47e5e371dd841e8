// PNG decoding from memory (libpng), for images uploaded to aslnet serve: any PNG (gray, gray+alpha,
// palette, RGB, RGBA, 1- to 16-bit, interlaced) becomes the same 8-bit RGB Image that JPEG decoding
// gives (data/jpeg.h), so everything after decoding is one path. Training data stays JPEG: this is for
// the images people have at hand (screenshots, exports) rather than for datasets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "data/jpeg.h"

namespace aslnet {

// True for the 8-byte PNG signature at the start of `data`.
bool is_png(const uint8_t* data, size_t size);

// The width and height from the IHDR chunk alone, without decoding anything: so that an image of too
// many pixels can be refused before its pixels are allocated. False when `data` is not a PNG, or its
// IHDR is truncated or damaged (wrong length, bad CRC, a zero or out-of-range side).
bool png_dimensions(const uint8_t* data, size_t size, int& width, int& height);

// Decodes a whole PNG to 8-bit RGB. Throws DecodeError, one line naming `name`, when `data` is not a
// PNG, is truncated or corrupt, or is more than 16384 pixels a side (the limit JPEG decoding has too).
Image decode_png(const uint8_t* data, size_t size, const std::string& name = "");

}  // namespace aslnet
