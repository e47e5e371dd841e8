#include "engine/schedule.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"

namespace aslnet {

namespace {
double cosine_between(double from, double to, double fraction) {
  return to + (from - to) * 0.5 * (1.0 + std::cos(M_PI * std::clamp(fraction, 0.0, 1.0)));
}
}  // namespace

double learning_rate(const ScheduleConfig& c, int64_t step) {
  if (c.kind != "onecycle" && step < c.warmup_steps) return c.base_lr * double(step + 1) / double(c.warmup_steps);
  if (c.kind == "constant") return c.base_lr;
  if (c.kind == "cosine") {
    const int64_t span = std::max<int64_t>(1, c.total_steps - c.warmup_steps - 1);
    return cosine_between(c.base_lr, c.min_lr, double(step - c.warmup_steps) / double(span));
  }
  if (c.kind == "step") {
    ASLNET_CHECK(c.step_size > 0) << "step schedule needs a positive step size";
    return c.base_lr * std::pow(c.gamma, double((step - c.warmup_steps) / c.step_size));
  }
  if (c.kind == "onecycle") {
    // As torch.optim.lr_scheduler.OneCycleLR(anneal_strategy="cos", three_phase=False).
    const double start = c.base_lr / c.div_factor, end = start / c.final_div_factor;
    const double rise_end = c.pct_start * double(c.total_steps) - 1.0;
    const double fall_end = double(c.total_steps) - 1.0;
    const double s = double(step);
    if (s <= rise_end) return cosine_between(start, c.base_lr, rise_end > 0 ? s / rise_end : 1.0);
    return cosine_between(c.base_lr, end, (s - rise_end) / std::max(1.0, fall_end - rise_end));
  }
  ASLNET_CHECK(false) << "unknown schedule '" << c.kind << "': expected cosine, step, onecycle or constant";
  return 0.0;
}

}  // namespace aslnet
