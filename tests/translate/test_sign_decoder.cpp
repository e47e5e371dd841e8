// The sign decoder's rules (translate/sign_decoder.h) on hand-made frame sequences: holds, flicker,
// low confidence, double letters through `nothing`, `space` and `del`.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/core/error.h"
#include "translate/sign_decoder.h"

namespace aslnet {
namespace {

// Each entry: a class held for `frames` frames at `confidence`.
struct Hold {
  std::string sign;
  int frames;
  double confidence = 0.9;
};

std::string decode(const std::vector<Hold>& holds, SignDecoderOptions options = {}) {
  std::vector<std::string> classes;
  std::vector<double> confidences;
  for (const auto& h : holds)
    for (int i = 0; i < h.frames; ++i) {
      classes.push_back(h.sign);
      confidences.push_back(h.confidence);
    }
  return decode_signs(classes, confidences, options);
}

TEST(SignDecoder, EmitsASignOnceItIsHeldForTheHoldFrames) {
  EXPECT_EQ(decode({{"H", 3}, {"I", 3}}), "HI");
  EXPECT_EQ(decode({{"H", 2}, {"I", 3}}), "I");  // too short a hold
  EXPECT_EQ(decode({{"H", 20}}), "H");           // held on: still one letter
  EXPECT_EQ(decode({{"h", 3}}), "H");            // class names in any case
}

TEST(SignDecoder, FlickerAndLowConfidenceBreakAHoldButDoNotRepeatALetter) {
  EXPECT_EQ(decode({{"A", 2}, {"B", 1}, {"A", 2}}), "");        // never 3 in a row
  EXPECT_EQ(decode({{"A", 3}, {"A", 2, 0.3}, {"A", 3}}), "A");  // unconfident gap: the same sign held
  EXPECT_EQ(decode({{"A", 3}, {"B", 1}, {"A", 3}}), "A");       // B never held: A is not repeated
  EXPECT_EQ(decode({{"A", 3}, {"B", 3}, {"A", 3}}), "ABA");
  EXPECT_EQ(decode({{"A", 3, 0.59}}), "");  // below min_confidence
  EXPECT_EQ(decode({{"A", 3, 0.59}}, {.min_confidence = 0.5, .hold_frames = 3}), "A");
  // A broken model's NaN confidence is below any threshold (it used to pass one and emit a letter).
  EXPECT_EQ(decode({{"A", 3, std::nan("")}}), "");
  EXPECT_EQ(decode({{"A", 3, std::nan("")}}, {.min_confidence = 0.0, .hold_frames = 3}), "");
}

TEST(SignDecoder, NothingSeparatesDoubleLettersSpaceAndDelEdit) {
  EXPECT_EQ(decode({{"L", 3}, {"L", 3}}), "L");
  EXPECT_EQ(decode({{"L", 3}, {"nothing", 3}, {"L", 3}}), "LL");
  EXPECT_EQ(decode({{"H", 3}, {"I", 3}, {"space", 3}, {"Y", 3}, {"O", 3}}), "HI YO");
  EXPECT_EQ(decode({{"H", 3}, {"X", 3}, {"del", 3}, {"I", 3}}), "HI");
  EXPECT_EQ(decode({{"del", 3}, {"A", 3}}), "A");  // del on empty text does nothing
  EXPECT_EQ(decode({{"A", 3}, {"B", 3}, {"del", 3}, {"nothing", 3}, {"del", 3}}), "");
}

TEST(SignDecoder, UnreadableFramesBreakAHold) {
  SignDecoder d({.min_confidence = 0.5, .hold_frames = 3});
  d.push("A", 0.9);
  d.push("A", 0.9);
  d.push_unreadable();
  d.push("A", 0.9);
  EXPECT_EQ(d.text(), "");
  d.push("A", 0.9);
  const FrameOutcome o = d.push("A", 0.9);
  EXPECT_TRUE(o.emitted);
  EXPECT_EQ(o.sign, "A");
  EXPECT_EQ(d.text(), "A");
}

TEST(SignDecoder, BadOptionsAreRefused) {
  const SignDecoderOptions no_hold{.min_confidence = 0.5, .hold_frames = 0};
  const SignDecoderOptions too_sure{.min_confidence = 1.5, .hold_frames = 3};
  EXPECT_THROW(SignDecoder{no_hold}, Error);
  EXPECT_THROW(SignDecoder{too_sure}, Error);
}

}  // namespace
}  // namespace aslnet
