#include "translate/speech.h"

#include <espeak-ng/speak_lib.h>

#include <mutex>

#include "engine/core/error.h"

namespace aslnet {

namespace {

std::mutex g_espeak;  // espeak-ng keeps one engine per process

// espeak-ng hands over its samples in pieces; user_data (set by espeak_Synth) is where they go.
int collect(short* wav, int count, espeak_EVENT* events) {
  auto* out = static_cast<std::vector<int16_t>*>(events->user_data);
  if (wav != nullptr && count > 0 && out != nullptr) out->insert(out->end(), wav, wav + count);
  return 0;  // 0: go on
}

// espeak-ng's engine, started once per process and ended at exit: it cannot be started again after
// espeak_Terminate (a second espeak_Initialize hangs, measured with espeak-ng 1.51).
struct EspeakEngine {
  int sample_rate = 0;
  EspeakEngine() {
    sample_rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, 0);
    if (sample_rate > 0) espeak_SetSynthCallback(collect);
  }
  ~EspeakEngine() {
    if (sample_rate > 0) espeak_Terminate();
  }
};

int espeak_sample_rate() {
  static EspeakEngine engine;
  ASLNET_CHECK(engine.sample_rate > 0) << "espeak-ng cannot start (is espeak-ng-data installed? Debian: libespeak-ng1)";
  return engine.sample_rate;
}

}  // namespace

Audio synthesize_speech(const std::string& text, const SpeechOptions& options) {
  ASLNET_CHECK(options.rate >= espeakRATE_MINIMUM && options.rate <= espeakRATE_MAXIMUM)
      << "--rate " << options.rate << ": espeak-ng speaks " << espeakRATE_MINIMUM << " to " << espeakRATE_MAXIMUM
      << " words per minute";
  std::lock_guard<std::mutex> lock(g_espeak);
  const int sample_rate = espeak_sample_rate();
  ASLNET_CHECK(espeak_SetVoiceByName(options.voice.c_str()) == EE_OK)
      << "--voice " << options.voice << ": espeak-ng has no such voice (try en, en-us, de, fr; `espeak-ng --voices` lists them)";
  ASLNET_CHECK(espeak_SetParameter(espeakRATE, options.rate, 0) == EE_OK) << "espeak-ng refused --rate " << options.rate;
  Audio audio;
  audio.sample_rate = sample_rate;
  ASLNET_CHECK(espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, nullptr,
                            &audio.samples) == EE_OK)
      << "espeak-ng could not synthesise the text";
  ASLNET_CHECK(espeak_Synchronize() == EE_OK) << "espeak-ng did not finish synthesising";
  return audio;
}

}  // namespace aslnet
