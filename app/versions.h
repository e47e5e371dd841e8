// What this binary is: aslnet's version and the commit it was built from, and the version of every
// library it runs on (CUDA, cuDNN, cuBLAS, NCCL, MPI, OpenBLAS, libjpeg-turbo, libpng). Printed by
// `aslnet --version` and `aslnet info`, and recorded in every run's run.json, so that a result can be
// traced to the code and libraries that produced it.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace aslnet::app {

// Written at build time into build/generated/version_info.cpp (cmake/version_info.cmake).
const char* aslnet_version();
const char* aslnet_commit();  // `git describe --always --dirty`, or "unknown" outside a git checkout

// Name and version of each library, in a fixed order; "none" for one this build or machine lacks
// (no NCCL in the build, no GPU driver); "not built" for CUDA, cuDNN, cuBLAS and NCCL in a build
// without CUDA.
std::vector<std::pair<std::string, std::string>> library_versions();

// How this binary was built: "built with CUDA 13.0, cuDNN 9.19" (the headers it was compiled against),
// or "built without CUDA (CPU only)".
std::string build_text();

// "aslnet 0.9.0 (commit 1a2b3c4d5e6f)", build_text(), and one "  name: version" line per library.
std::string version_text();

}  // namespace aslnet::app
