// Mixed-precision glue: bf16 gradients of a layer's weights widened into the fp32 gradient arena.
// cuDNN and cuBLAS write a bf16 layer's weight gradient in bf16; the arena (what the all-reduce and the
// optimizer read) is fp32, and gradient accumulation over micro-batches adds there in fp32, not in bf16.
#pragma once

#include <cstdint>

#include "engine/core/dtype.h"
#include "engine/core/gpu_types.h"

namespace aslnet::kernels::cuda {

// y = float(x), or y += float(x) with `accumulate`.
void widen_into(cudaStream_t stream, int64_t count, const bf16* x, float* y, bool accumulate);

}  // namespace aslnet::kernels::cuda
