// Which CPU kernels the layers use: `reference` (im2col + OpenBLAS, the engine's own loops: what every
// other backend is tested against) or `fast` (oneDNN's primitives where the engine has them: the fp32
// convolutions, kernels/conv_onednn.h, with batch norm and ReLU fused in for inference,
// engine/layers/conv_bn_inference.h; the matrix products, kernels/gemm_onednn.h). The element-wise
// loops are the engine's own on both. `--cpu-kernels` sets it; layers read it at setup, so a model set
// up afterwards uses the new choice; the matrix products read it at each call. Process-wide like the
// CPU thread count (Context::set_cpu_threads), which it goes with: both say how this process computes
// on its cores.
#pragma once

#include <string>

namespace aslnet::kernels {

enum class CpuKernels { Reference, Fast };

// `fast` when this build has oneDNN, else `reference`.
CpuKernels default_cpu_kernels();
// Throws when `fast` is asked of a build without oneDNN (the message names --cpu-kernels).
void set_cpu_kernels(CpuKernels kernels);
CpuKernels cpu_kernels();

const char* cpu_kernels_name(CpuKernels kernels);
// "reference" or "fast"; anything else throws naming the flag.
CpuKernels parse_cpu_kernels(const std::string& text);

// Called first in main by programs that run the fast kernels: unless OMP_WAIT_POLICY or GOMP_SPINCOUNT
// is set, restarts the program (execv, same arguments) with OMP_WAIT_POLICY=PASSIVE, because oneDNN's
// OpenMP threads would otherwise spin ~15 ms after every convolution on cores the engine needs
// (kernels/onednn/threads.cpp says why it cannot be done from inside). No-op without oneDNN.
void use_passive_openmp(char** argv);

// For a benchmark's peer (torchvision) started from a program that use_passive_openmp restarted: the
// prefix of its shell command ("env -u OMP_WAIT_POLICY ") that gives it back the environment the user
// gave, so each side runs with its own default. Empty when the user set the policy, or nothing was set.
std::string peer_environment_prefix();

}  // namespace aslnet::kernels
