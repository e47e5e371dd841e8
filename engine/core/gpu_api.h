// The one include of the CUDA runtime, cuBLAS and cuDNN for host code (.cpp files that drive a GPU).
// With CUDA these are the libraries' own headers. In a CPU-only build they are the stand-in of
// engine/core/no_gpu/: the same names, declared by aslnet, where every call fails with kNoGpuSupport.
// The code that drives a GPU so compiles unchanged in both builds, reads as plain CUDA, and needs no #if;
// it is never reached in a CPU-only build, whose gpu_count() is 0 and whose Device::cuda refuses.
#pragma once

#include "engine/core/build_config.h"
#include "engine/core/gpu_types.h"

#if ASLNET_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#else
#include "engine/core/no_gpu/runtime.h"
#endif
