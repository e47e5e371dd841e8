// For transports that only sum (MPI, the TCP ring): turns a CPU buffer of sums over `ranks` into
// their average, with the same arithmetic on every rank, so ranks holding the same sums hold the same
// averages, bit for bit.
#pragma once

#include "engine/core/tensor.h"

namespace aslnet {

// f32: multiplies by 1/ranks (as NCCL's ncclAvg does); f64: divides by ranks.
void sum_to_average(const Tensor& buffer, int ranks);

}  // namespace aslnet
