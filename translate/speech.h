// Text to speech with espeak-ng's library (Debian's libespeak-ng-dev): synthesised in memory as 16-bit
// mono samples at espeak-ng's own rate (22,050 Hz), ready for write_wav. espeak-ng is one global engine
// per process, so calls are serialised.
#pragma once

#include <string>

#include "translate/wav.h"

namespace aslnet {

struct SpeechOptions {
  std::string voice = "en";  // an espeak-ng voice name: en, en-us, de, fr, ...
  int rate = 160;            // words per minute (espeak-ng accepts 80 to 450)
};

// An Error names the voice when espeak-ng does not know it, and says where espeak-ng's data should be
// when it cannot start.
Audio synthesize_speech(const std::string& text, const SpeechOptions& options = {});

}  // namespace aslnet
