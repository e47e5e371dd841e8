// Speech and WAV files: espeak-ng says a phrase, the WAV written reads back with the same samples,
// the rate and length are plausible and the sound is not silence; bad voices, rates and files give
// one-line errors.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "tests/test_util.h"
#include "translate/speech.h"
#include "translate/wav.h"

namespace aslnet {
namespace {

double rms(const Audio& a) {
  double sum = 0.0;
  for (int16_t s : a.samples) sum += double(s) * double(s);
  return a.samples.empty() ? 0.0 : std::sqrt(sum / double(a.samples.size()));
}

TEST(Speech, SaysAPhraseAsAudibleSamplesThatRoundTripThroughAWav) {
  const Audio audio = synthesize_speech("HELLO WORLD", {.voice = "en", .rate = 160});
  EXPECT_EQ(audio.sample_rate, 22050);
  // Two words at 160 words per minute: about a second, surely between 0.3 and 5.
  EXPECT_GT(audio.seconds(), 0.3);
  EXPECT_LT(audio.seconds(), 5.0);
  EXPECT_GT(rms(audio), 300.0) << "near silence";
  test::TempDir dir;
  ASSERT_FALSE(dir.path.empty());
  const std::string path = (dir.path / "hello.wav").string();
  write_wav(path, audio);
  const Audio back = read_wav(path);
  EXPECT_EQ(back.sample_rate, audio.sample_rate);
  EXPECT_EQ(back.samples, audio.samples);
  // A faster rate says the same in less time.
  EXPECT_LT(synthesize_speech("HELLO WORLD", {.voice = "en", .rate = 320}).seconds(), audio.seconds());
}

TEST(Speech, BadVoicesRatesAndFilesAreNamed) {
  try {
    synthesize_speech("HI", {.voice = "no-such-voice", .rate = 160});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--voice no-such-voice"), std::string::npos) << e.what();
  }
  EXPECT_THROW(synthesize_speech("HI", {.voice = "en", .rate = 10}), Error);
  test::TempDir dir;
  const std::string text = (dir.path / "not.wav").string();
  std::ofstream(text) << "not a wav";
  try {
    read_wav(text);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a WAV file"), std::string::npos) << e.what();
  }
  EXPECT_THROW(write_wav((dir.path / "no-folder" / "x.wav").string(), {22050, {1, 2, 3}}), Error);
}

}  // namespace
}  // namespace aslnet
