// How this build was made: with CUDA (the CUDA toolkit and cuDNN found, or asked for with
// -DASLNET_CUDA=ON) or without (a CPU-only build). CMakeLists.txt defines ASLNET_CUDA as 1 or 0 for every
// target; code asks kBuiltWithCuda rather than the macro, so the #ifs stay in the few files that must
// choose between two sets of headers (engine/core/gpu_api.h, app/versions.cpp).
#pragma once

#ifndef ASLNET_CUDA
#error "ASLNET_CUDA is not defined: CMakeLists.txt defines it (1 or 0) for every target that links aslnet_core"
#endif

namespace aslnet {

inline constexpr bool kBuiltWithCuda = ASLNET_CUDA != 0;

// The one line a build without CUDA answers to any request for a GPU (Device::cuda, --device cuda, and,
// should one ever be reached, every CUDA, cuBLAS or cuDNN call and every CUDA kernel).
inline constexpr const char* kNoGpuSupport =
    "this build of aslnet has no GPU support (built without CUDA: rebuild with the CUDA toolkit and cuDNN)";

}  // namespace aslnet
