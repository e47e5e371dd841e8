// aslnet translate: from a sequence of frames (JPEG or PNG files, or a folder of them in name order) to
// text, and with --speak to speech. Frames are classified in batches (GPU or CPU; with --tta, each frame's
// views averaged, data/tta.h), then the sign decoder (translate/sign_decoder.h) turns the per-frame
// letters into text: a sign counts once it has been the
// top prediction with at least --min-confidence for --hold-frames frames in a row; `space` adds a space,
// `del` removes the last character, `nothing` separates double letters. Unreadable frames are skipped,
// counted and named; they break a hold like an unconfident frame.
#include <fmt/core.h>

#include <algorithm>
#include <exception>
#include <nlohmann/json.hpp>

#include "app/classify_files.h"
#include "app/cli_checks.h"
#include "app/commands.h"
#include "app/device_options.h"
#include "app/tta_option.h"
#include "data/image_files.h"
#include "models/inference_model.h"
#include "translate/sign_decoder.h"
#include "translate/speech.h"

namespace aslnet::app {

namespace {

struct TranslateOptions {
  std::string checkpoint, speak, voice = "en", device = "auto", tta = "none";
  std::vector<std::string> frames;
  SignDecoderOptions decoder;
  int rate = 160;
  int64_t batch = 32;
  int threads = 0;
  bool json = false;
};

void run_translate(const TranslateOptions& o) {
  // Files as given, a folder's photos in name order with numbers by value (frame2 before frame10).
  const std::vector<std::string> frames = expand_image_arguments(o.frames, photo_extensions(), "frame");
  SignDecoder decoder(o.decoder);  // checks the thresholds before any work
  if (o.threads > 0) Context::set_cpu_threads(o.threads);
  Context ctx(inference_device(o.device));
  const TtaMode tta = parse_tta(o.tta);
  const int64_t batch = std::min<int64_t>(o.batch, int64_t(frames.size()));
  InferenceModel m =
      load_for_inference(ctx, o.checkpoint, batch * int64_t(tta_view_list(tta).size()), BatchNormFold::Fold);
  const std::vector<FileResult> results = classify_files(ctx, m, frames, batch, tta);

  nlohmann::json per_frame = nlohmann::json::array();
  std::vector<std::string> unreadable;
  for (size_t i = 0; i < frames.size(); ++i) {
    const FileResult& r = results[i];
    if (!r.error.empty()) {
      unreadable.push_back(frames[i]);
      decoder.push_unreadable();
      per_frame.push_back({{"frame", frames[i]}, {"error", r.error}});
      continue;
    }
    const size_t top =
        size_t(std::max_element(r.probabilities.begin(), r.probabilities.end()) - r.probabilities.begin());
    const FrameOutcome outcome = decoder.push(m.classes[top], r.probabilities[top]);
    nlohmann::json probabilities;
    for (size_t c = 0; c < m.classes.size(); ++c) probabilities[m.classes[c]] = r.probabilities[c];
    nlohmann::json entry{{"frame", frames[i]},
                         {"top", m.classes[top]},
                         {"confidence", r.probabilities[top]},
                         {"probabilities", probabilities}};
    if (outcome.emitted) entry["emitted"] = outcome.sign;
    per_frame.push_back(entry);
  }
  ASLNET_CHECK(unreadable.size() < frames.size())
      << "none of the " << frames.size() << " frames could be read (the first: " << frames[0] << ")";

  std::string wav_note;
  std::exception_ptr speech_failure;
  if (!o.speak.empty()) {
    ASLNET_CHECK(!decoder.text().empty())
        << "--speak " << o.speak << ": the frames spell no text, so there is nothing to say";
    // A speech failure (an unknown voice, an unwritable file) must not lose the text: it is printed
    // below, and the failure raised after it.
    try {
      const Audio audio = synthesize_speech(decoder.text(), {o.voice, o.rate});
      write_wav(o.speak, audio);
      wav_note = fmt::format("{} ({:.1f} s at {} Hz, voice {})", o.speak, audio.seconds(), audio.sample_rate, o.voice);
    } catch (const Error&) {
      speech_failure = std::current_exception();
    }
  }
  if (o.json) {
    nlohmann::json out{{"text", decoder.text()},
                       {"frames", frames.size()},
                       {"unreadable", unreadable},
                       {"min_confidence", o.decoder.min_confidence},
                       {"hold_frames", o.decoder.hold_frames},
                       {"per_frame", per_frame}};
    if (!o.speak.empty() && !speech_failure) out["wav"] = o.speak;
    fmt::print("{}\n", out.dump(2));
    if (speech_failure) std::rethrow_exception(speech_failure);
    return;
  }
  fmt::print("{}\n", decoder.text());
  if (!unreadable.empty()) {
    std::string names;
    for (const auto& f : unreadable) names += " " + f;
    fmt::print(stderr, "skipped {} unreadable frame(s):{}\n", unreadable.size(), names);
  }
  if (!wav_note.empty()) fmt::print(stderr, "wrote {}\n", wav_note);
  if (speech_failure) std::rethrow_exception(speech_failure);
}

}  // namespace

void register_translate(CLI::App& app) {
  auto o = std::make_shared<TranslateOptions>();
  auto* cmd = app.add_subcommand("translate", "Turn a sequence of sign frames into text (and speech with --speak)");
  cmd->add_option("--checkpoint", o->checkpoint, "a checkpoint written by aslnet train")->required();
  cmd->add_option("frames", o->frames, "image files in order, or a folder of them (sorted by name)")->required();
  cmd->add_option("--min-confidence", o->decoder.min_confidence,
                  "a frame counts only if its top letter has at least this probability")
      ->check(in_range(0.0, 1.0));
  cmd->add_option("--hold-frames", o->decoder.hold_frames, "frames in a row a sign must be held to count")
      ->check(in_range(1, 1000));
  cmd->add_option("--speak", o->speak, "write the text as speech to this WAV file (espeak-ng)");
  cmd->add_option("--voice", o->voice, "espeak-ng voice (en, en-us, de, fr, ...)");
  cmd->add_option("--rate", o->rate, "speech rate in words per minute")->check(in_range(80, 450));
  cmd->add_option("--device", o->device, "auto (the first GPU when there is one), cpu or cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--batch", o->batch, "frames classified at once")->check(positive());
  add_tta_option(*cmd, o->tta);
  cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)")->check(non_negative());
  add_cpu_kernels_option(*cmd);
  cmd->add_flag("--json", o->json, "print the text, and each frame's letter and probabilities, as JSON");
  cmd->callback([o] { run_translate(*o); });
}

}  // namespace aslnet::app
