// What a run shows: a progress bar on a terminal (images/s, loss, accuracy, ETA), one line per epoch,
// and JSON lines for machines. --quiet silences the bar and the epoch lines, not the JSON log.
#pragma once

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace aslnet::app {

class Progress {
 public:
  Progress(bool quiet, const std::string& json_path);
  ~Progress();

  // Redraws the bar (at most ~10 times a second) for `done` of `total` units in this epoch; a NaN loss
  // shows as not measured yet.
  void bar(const std::string& label, int64_t done, int64_t total, double loss, double accuracy, double images_per_s);
  void line(const std::string& text);  // clears the bar first
  void json(const nlohmann::json& record);
  bool quiet() const { return quiet_; }

 private:
  bool quiet_, tty_;
  std::FILE* json_ = nullptr;
  std::chrono::steady_clock::time_point last_draw_{}, epoch_start_{};
  bool bar_shown_ = false;
};

std::string format_duration(double seconds);  // "1:05:07" or "3:07"

}  // namespace aslnet::app
