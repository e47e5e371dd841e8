#include "app/versions.h"

#include <fmt/core.h>
#include <jconfig.h>  // libjpeg-turbo's version (known at compile time only: the library cannot say)
#include <png.h>

#include "engine/core/build_config.h"
#include "engine/core/cpu_blas.h"
#include "engine/replication/launch.h"
#include "kernels/conv_onednn.h"
#include "kernels/cpu_kernels.h"

// The libraries' own version queries: the one place besides engine/core/gpu_api.h that must choose
// between two sets of headers, because a CPU-only build has nothing to ask.
#if ASLNET_CUDA
#include <cublas_api.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#endif

namespace aslnet::app {

namespace {

// CUDA's version numbers: 1000 * major + 10 * minor. (Unused in a CPU-only build.)
[[maybe_unused]] std::string cuda_text(int code) {
  return code > 0 ? fmt::format("{}.{}", code / 1000, code % 1000 / 10) : "none";
}

std::string or_none(const std::string& text) { return text.empty() ? "none" : text; }

// CUDA runtime, driver, cuDNN and cuBLAS, as loaded at run time.
std::vector<std::pair<std::string, std::string>> gpu_library_versions() {
#if ASLNET_CUDA
  int runtime = 0, driver = 0;
  if (cudaRuntimeGetVersion(&runtime) != cudaSuccess) runtime = 0;
  if (cudaDriverGetVersion(&driver) != cudaSuccess) driver = 0;  // 0: no driver on this machine
  int cublas[3] = {};
  for (int i = 0; i < 3; ++i)
    if (cublasGetProperty(libraryPropertyType(MAJOR_VERSION + i), &cublas[i]) != CUBLAS_STATUS_SUCCESS) cublas[i] = 0;
  // cuDNN 9: major * 10000 + minor * 100 + patch.
  const size_t cudnn = cudnnGetVersion();
  return {
      {"cuda runtime", cuda_text(runtime)},
      {"cuda driver", cuda_text(driver)},
      {"cudnn", fmt::format("{}.{}.{}", cudnn / 10000, cudnn / 100 % 100, cudnn % 100)},
      {"cublas", fmt::format("{}.{}.{}", cublas[0], cublas[1], cublas[2])},
  };
#else
  return {{"cuda runtime", "not built"}, {"cuda driver", "not built"}, {"cudnn", "not built"}, {"cublas", "not built"}};
#endif
}

}  // namespace

std::string build_text() {
#if ASLNET_CUDA
  return fmt::format("built with CUDA {}, cuDNN {}.{}", cuda_text(CUDART_VERSION), CUDNN_MAJOR, CUDNN_MINOR);
#else
  return "built without CUDA (CPU only)";
#endif
}

// The CPU side, on a line of its own (scripts match the line above exactly): whether this build has
// oneDNN's fast kernels (kernels/cpu_kernels.h).
static std::string cpu_kernels_text() {
  if (!kernels::onednn::available()) return "CPU kernels: reference only (built without oneDNN)";
  return fmt::format("CPU kernels: fast (oneDNN {}) by default, or reference (--cpu-kernels)",
                     kernels::onednn::version());
}

std::vector<std::pair<std::string, std::string>> library_versions() {
  std::vector<std::pair<std::string, std::string>> versions = gpu_library_versions();
  const std::vector<std::pair<std::string, std::string>> others = {
      {"nccl", kBuiltWithCuda ? or_none(nccl_version()) : "not built"},
      {"mpi", or_none(mpi_version())},
      {"openblas", cpu_blas::library_version()},
      {"onednn", kernels::onednn::version()},
      {"libjpeg-turbo", fmt::format("{}.{}.{}", LIBJPEG_TURBO_VERSION_NUMBER / 1000000,
                                     LIBJPEG_TURBO_VERSION_NUMBER / 1000 % 1000, LIBJPEG_TURBO_VERSION_NUMBER % 1000)},
      {"libpng", png_get_libpng_ver(nullptr)},
  };
  versions.insert(versions.end(), others.begin(), others.end());
  return versions;
}

std::string version_text() {
  std::string text = fmt::format("aslnet {} (commit {})\n{}\n{}\n", aslnet_version(), aslnet_commit(), build_text(),
                                 cpu_kernels_text());
  for (const auto& [name, version] : library_versions()) text += fmt::format("  {:<14} {}\n", name + ":", version);
  return text;
}

}  // namespace aslnet::app
