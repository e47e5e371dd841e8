#include "engine/early_stop.h"

namespace aslnet {

bool ValidationBest::offer(int64_t epoch, double accuracy) {
  if (!(accuracy > accuracy_)) return false;  // written so that a NaN never counts as better
  accuracy_ = accuracy;
  epoch_ = epoch;
  return true;
}

// Epochs since the best one; with no best at all (a run that never validated), since the start.
bool ValidationBest::patience_ran_out(int64_t epoch, int64_t patience) const {
  return patience > 0 && epoch - epoch_ >= patience;
}

}  // namespace aslnet
