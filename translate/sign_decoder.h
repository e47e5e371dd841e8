// From per-frame predictions to text. A signer holds each sign for a moment, and a classifier's guess
// flickers between frames, so a sign counts only once it has been the top prediction, with at least
// `min_confidence`, for `hold_frames` consecutive frames. Then:
//   - a letter is appended;
//   - `space` appends a space, `del` removes the last character;
//   - `nothing` (no sign) emits nothing but lets the previous sign be emitted again, which is how a
//     signer spells a double letter (L, nothing, L).
// A sign held on, or shown again after frames that were not confident enough, is emitted once: only
// another confident sign (or `nothing`) in between lets it repeat.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace aslnet {

struct SignDecoderOptions {
  double min_confidence = 0.6;
  int hold_frames = 3;
};

// What one frame did to the text.
struct FrameOutcome {
  bool emitted = false;  // this frame completed a sign's hold
  std::string sign;      // the sign emitted ("A", "space", "del", "nothing"), when emitted
};

class SignDecoder {
 public:
  explicit SignDecoder(SignDecoderOptions options = {});

  // The frame's top class name (as the classifier names it: "A".."Z", "space", "del", "nothing") and
  // its probability. Class names are matched case-insensitively.
  FrameOutcome push(const std::string& top_class, double confidence);
  // A frame that could not be read: it breaks the current hold, like an unconfident frame.
  void push_unreadable();

  const std::string& text() const { return text_; }

 private:
  SignDecoderOptions options_;
  std::string run_;       // the class of the current run of confident frames ("" when none)
  int run_length_ = 0;
  std::string last_;      // the last sign emitted; it is not emitted again until another sign intervenes
  std::string text_;
};

// Decodes a whole sequence at once (unreadable frames as empty class names).
std::string decode_signs(const std::vector<std::string>& top_classes, const std::vector<double>& confidences,
                         SignDecoderOptions options = {});

}  // namespace aslnet
