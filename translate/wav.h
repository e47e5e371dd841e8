// WAV files of 16-bit PCM mono (the format espeak-ng synthesises): written for aslnet translate
// --speak, and read back by its tests. A 44-byte RIFF header, then the samples, little-endian.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace aslnet {

struct Audio {
  int sample_rate = 0;
  std::vector<int16_t> samples;  // mono
  double seconds() const { return sample_rate > 0 ? double(samples.size()) / sample_rate : 0.0; }
};

// The whole file in memory (what write_wav writes; aslnet serve answers /speech with it).
std::vector<uint8_t> encode_wav(const Audio& audio);
// Written atomically (a temporary file, then a rename), so a failed write leaves no half file.
void write_wav(const std::string& path, const Audio& audio);
// Reads a 16-bit PCM mono WAV; an Error naming the file when it is anything else.
Audio read_wav(const std::string& path);

}  // namespace aslnet
