#include "app/versions.h"

#include <cublas_api.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <fmt/core.h>
#include <jconfig.h>  // libjpeg-turbo's version (known at compile time only: the library cannot say)
#include <png.h>

#include "engine/core/cpu_blas.h"
#include "engine/replication/launch.h"

namespace aslnet::app {

namespace {

// CUDA's version numbers: 1000 * major + 10 * minor.
std::string cuda_text(int code) { return code > 0 ? fmt::format("{}.{}", code / 1000, code % 1000 / 10) : "none"; }

std::string or_none(const std::string& text) { return text.empty() ? "none" : text; }

}  // namespace

std::vector<std::pair<std::string, std::string>> library_versions() {
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
      {"nccl", or_none(nccl_version())},
      {"mpi", or_none(mpi_version())},
      {"openblas", cpu_blas::library_version()},
      {"libjpeg-turbo", fmt::format("{}.{}.{}", LIBJPEG_TURBO_VERSION_NUMBER / 1000000,
                                     LIBJPEG_TURBO_VERSION_NUMBER / 1000 % 1000, LIBJPEG_TURBO_VERSION_NUMBER % 1000)},
      {"libpng", png_get_libpng_ver(nullptr)},
  };
}

std::string version_text() {
  std::string text = fmt::format("aslnet {} (commit {})\n", aslnet_version(), aslnet_commit());
  for (const auto& [name, version] : library_versions()) text += fmt::format("  {:<14} {}\n", name + ":", version);
  return text;
}

}  // namespace aslnet::app
