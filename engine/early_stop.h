// The best validation accuracy of a run so far, the epoch that reached it, and the early-stopping rule
// (--early-stop PATIENCE): stop once PATIENCE epochs in a row have not beaten it. aslnet train's
// reporter keeps one (best.safetensors follows it) and carries it across --resume in the checkpoint's
// metadata, so a resumed run keeps counting from the best epoch before the interruption.
#pragma once

#include <cstdint>

namespace aslnet {

class ValidationBest {
 public:
  ValidationBest() = default;
  // A resumed run's best so far (accuracy < 0: none yet). `epoch` counts from 1; 0 with no best.
  ValidationBest(double accuracy, int64_t epoch) : accuracy_(accuracy), epoch_(epoch) {}

  // Epoch `epoch` (from 1) validated at `accuracy`: true when it beats every epoch before (strictly, so
  // a flat accuracy counts as no progress).
  bool offer(int64_t epoch, double accuracy);
  // Whether a run with `patience` epochs of patience (0: never) stops after epoch `epoch`.
  bool patience_ran_out(int64_t epoch, int64_t patience) const;

  double accuracy() const { return accuracy_; }
  int64_t epoch() const { return epoch_; }
  bool any() const { return accuracy_ >= 0; }

 private:
  double accuracy_ = -1.0;
  int64_t epoch_ = 0;
};

}  // namespace aslnet
