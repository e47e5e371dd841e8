#include "app/progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"

namespace aslnet::app {

Progress::Progress(bool quiet, const std::string& json_path) : quiet_(quiet), tty_(isatty(fileno(stderr)) != 0) {
  if (!json_path.empty()) {
    json_ = std::fopen(json_path.c_str(), "a");
    ASLNET_CHECK(json_ != nullptr) << "cannot write the JSON log " << json_path;
  }
}

Progress::~Progress() {
  if (bar_shown_) std::fputc('\n', stderr);
  if (json_ != nullptr) std::fclose(json_);
}

std::string format_duration(double seconds) {
  const int64_t s = int64_t(std::max(0.0, std::round(seconds)));
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

void Progress::bar(const std::string& label, int64_t done, int64_t total, double loss, double accuracy,
                   double images_per_s) {
  if (quiet_ || !tty_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done == 1 || done == 0) epoch_start_ = now;
  if (done != total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  constexpr int kWidth = 24;
  const int filled = total ? int(kWidth * done / total) : kWidth;
  const double elapsed = std::chrono::duration<double>(now - epoch_start_).count();
  const double eta = done > 1 ? elapsed / double(done - 1) * double(total - done) : 0.0;
  // Before the run's first reading of the loss (every --log-every steps) there is none to show.
  const std::string scores =
      std::isnan(loss) ? "loss    -    acc    -  " : fmt::format("loss {:.4f}  acc {:5.1f}%", loss, 100.0 * accuracy);
  fmt::print(stderr, "\r{} [{}{}] {}/{}  {}  {:.0f} img/s  ETA {}\x1b[K", label, std::string(size_t(filled), '='),
             std::string(size_t(kWidth - filled), ' '), done, total, scores, images_per_s, format_duration(eta));
  std::fflush(stderr);
  bar_shown_ = true;
}

void Progress::line(const std::string& text) {
  if (bar_shown_) {
    std::fputs("\r\x1b[K", stderr);
    bar_shown_ = false;
  }
  if (!quiet_) fmt::print("{}\n", text);
  std::fflush(stdout);
}

void Progress::json(const nlohmann::json& record) {
  if (json_ == nullptr) return;
  std::fputs((record.dump() + "\n").c_str(), json_);
  std::fflush(json_);
}

}  // namespace aslnet::app
