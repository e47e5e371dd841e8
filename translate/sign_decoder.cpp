#include "translate/sign_decoder.h"

#include <algorithm>
#include <cctype>

#include "engine/core/error.h"

namespace aslnet {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

SignDecoder::SignDecoder(SignDecoderOptions options) : options_(options) {
  ASLNET_CHECK(options_.hold_frames >= 1) << "--hold-frames must be at least 1, got " << options_.hold_frames;
  ASLNET_CHECK(options_.min_confidence >= 0.0 && options_.min_confidence <= 1.0)
      << "--min-confidence must be in [0, 1], got " << options_.min_confidence;
}

void SignDecoder::push_unreadable() {
  run_.clear();
  run_length_ = 0;
}

FrameOutcome SignDecoder::push(const std::string& top_class, double confidence) {
  FrameOutcome outcome;
  // Written so that a NaN confidence (a broken model) is no confidence: NaN < x is false.
  if (top_class.empty() || !(confidence >= options_.min_confidence)) {
    push_unreadable();
    return outcome;
  }
  const std::string sign = lower(top_class);
  if (sign == run_) {
    ++run_length_;
  } else {
    run_ = sign;
    run_length_ = 1;
  }
  // Exactly at the hold: a sign held for longer is still one sign.
  if (run_length_ != options_.hold_frames || sign == last_) return outcome;
  last_ = sign;
  outcome.emitted = true;
  outcome.sign = sign.size() == 1 ? std::string(1, char(std::toupper(static_cast<unsigned char>(sign[0])))) : sign;
  if (sign == "nothing") {
    // Nothing to write; it only separates repeats (last_ is now "nothing", so any sign may follow).
  } else if (sign == "space") {
    text_ += ' ';
  } else if (sign == "del") {
    if (!text_.empty()) text_.pop_back();
  } else {
    text_ += outcome.sign;
  }
  return outcome;
}

std::string decode_signs(const std::vector<std::string>& top_classes, const std::vector<double>& confidences,
                         SignDecoderOptions options) {
  ASLNET_CHECK(top_classes.size() == confidences.size())
      << top_classes.size() << " classes for " << confidences.size() << " confidences";
  SignDecoder decoder(options);
  for (size_t i = 0; i < top_classes.size(); ++i) decoder.push(top_classes[i], confidences[i]);
  return decoder.text();
}

}  // namespace aslnet
