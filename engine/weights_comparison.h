// How far apart two checkpoints' weights are (aslnet compare): the question every data-parallel
// equivalence asks ("did two replicas, or two processes, train the same network as one replica?").
// The weights are the model's f32 tensors: parameters and batch-norm statistics, not the optimizer's
// state (its momentum is a running sum of gradients, where rounding differences pile up without
// meaning anything for the network) nor the EMA copy.
#pragma once

#include <cstdint>
#include <string>

namespace aslnet {

struct WeightsComparison {
  int64_t tensors = 0, values = 0;
  // ||a - b|| / ||b|| over every compared value together: the measure the replication tests bound by
  // 1e-5. 0 when the weights are the same bits.
  double relative_error = 0.0;
  // The largest |a - b| of any one value, and the tensor that holds it ("" when nothing differs).
  double largest_difference = 0.0;
  std::string largest_in;
  int64_t differing_tensors = 0;  // tensors that are not bit-identical
};

// Throws an Error naming the file or tensor when the checkpoints hold different tensors (a name in one
// only, or another shape or dtype): they are not two trainings of one network.
WeightsComparison compare_weights(const std::string& path_a, const std::string& path_b);

}  // namespace aslnet
