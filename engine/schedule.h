// Learning-rate schedules, as a function of the optimizer step: linear warm-up then cosine decay,
// step decay, and one-cycle (torch's OneCycleLR with cosine annealing).
#pragma once

#include <cstdint>
#include <string>

namespace aslnet {

struct ScheduleConfig {
  std::string kind = "cosine";  // "cosine", "step", "onecycle", "constant"
  double base_lr = 0.1;         // the peak (cosine, onecycle) or starting (step, constant) rate
  int64_t total_steps = 1;
  int64_t warmup_steps = 0;     // cosine and step: linear ramp from base_lr / warmup_steps up to base_lr
  double min_lr = 0.0;          // cosine: the rate at the last step
  int64_t step_size = 1;        // step: multiply by gamma every step_size steps
  double gamma = 0.1;
  double pct_start = 0.3;       // onecycle: fraction of steps spent rising
  double div_factor = 25.0;     // onecycle: start at base_lr / div_factor
  double final_div_factor = 1e4;  // onecycle: end at start / final_div_factor
};

// The rate for step `step` (0-based: the first update uses learning_rate(config, 0)).
double learning_rate(const ScheduleConfig& config, int64_t step);

}  // namespace aslnet
