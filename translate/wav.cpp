#include "translate/wav.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/core/error.h"

namespace aslnet {

namespace {

// Byte by byte (GCC 12 misjudges inserting short initializer lists as an overflow).
void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(uint8_t(v));
  out.push_back(uint8_t(v >> 8));
}
void put32(std::vector<uint8_t>& out, uint32_t v) {
  put16(out, uint16_t(v));
  put16(out, uint16_t(v >> 16));
}
void put_tag(std::vector<uint8_t>& out, const char tag[4]) {
  for (int i = 0; i < 4; ++i) out.push_back(uint8_t(tag[i]));
}
uint32_t get32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
uint16_t get16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }

}  // namespace

std::vector<uint8_t> encode_wav(const Audio& audio) {
  ASLNET_CHECK(audio.sample_rate > 0) << "cannot encode a WAV without a sample rate";
  const uint32_t data_bytes = uint32_t(audio.samples.size() * 2);
  std::vector<uint8_t> out;
  put_tag(out, "RIFF");
  put32(out, 36 + data_bytes);
  put_tag(out, "WAVE");
  put_tag(out, "fmt ");
  put32(out, 16);                             // the fmt chunk's size
  put16(out, 1);                              // PCM
  put16(out, 1);                              // mono
  put32(out, uint32_t(audio.sample_rate));
  put32(out, uint32_t(audio.sample_rate) * 2);  // bytes per second
  put16(out, 2);                              // bytes per frame
  put16(out, 16);                             // bits per sample
  put_tag(out, "data");
  put32(out, data_bytes);
  for (int16_t s : audio.samples) put16(out, uint16_t(s));
  return out;
}

void write_wav(const std::string& path, const Audio& audio) {
  ASLNET_CHECK(audio.sample_rate > 0) << "cannot write " << path << ": no sample rate";
  const std::vector<uint8_t> out = encode_wav(audio);
  const std::string temporary = path + ".partial";
  {
    std::ofstream file(temporary, std::ios::binary);
    ASLNET_CHECK(file.good()) << "cannot write " << path << ": check that its folder exists and is writable";
    file.write(reinterpret_cast<const char*>(out.data()), std::streamsize(out.size()));
    ASLNET_CHECK(file.good()) << "cannot write " << path << ": the disk may be full";
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  ASLNET_CHECK(!error) << "cannot write " << path << ": " << error.message();
}

Audio read_wav(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  ASLNET_CHECK(file.good()) << "cannot read " << path;
  const std::vector<uint8_t> raw((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  ASLNET_CHECK(raw.size() >= 12 && std::memcmp(raw.data(), "RIFF", 4) == 0 && std::memcmp(raw.data() + 8, "WAVE", 4) == 0)
      << path << " is not a WAV file";
  Audio audio;
  bool have_format = false;
  // Chunks: fmt (format), data (samples); others (LIST, ...) are skipped.
  for (size_t at = 12; at + 8 <= raw.size();) {
    const uint32_t size = get32(&raw[at + 4]);
    ASLNET_CHECK(at + 8 + size <= raw.size()) << path << ": a chunk runs past the end of the file";
    const uint8_t* body = &raw[at + 8];
    if (std::memcmp(&raw[at], "fmt ", 4) == 0) {
      ASLNET_CHECK(size >= 16 && get16(body) == 1 && get16(body + 2) == 1 && get16(body + 14) == 16)
          << path << ": not 16-bit PCM mono";
      audio.sample_rate = int(get32(body + 4));
      have_format = true;
    } else if (std::memcmp(&raw[at], "data", 4) == 0) {
      ASLNET_CHECK(have_format) << path << ": samples before the format";
      audio.samples.resize(size / 2);
      for (size_t i = 0; i < audio.samples.size(); ++i) audio.samples[i] = int16_t(get16(body + 2 * i));
      return audio;
    }
    at += 8 + size + (size & 1);
  }
  ASLNET_CHECK(false) << path << ": no samples (no data chunk)";
  return audio;
}

}  // namespace aslnet
