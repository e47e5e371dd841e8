#include "kernels/cpu_kernels.h"

#include <atomic>

#include "engine/core/error.h"
#include "kernels/conv_onednn.h"

namespace aslnet::kernels {

namespace {
// Read at every layer setup, possibly from several replica threads: an atomic, set before models are.
std::atomic<CpuKernels> g_kernels{default_cpu_kernels()};
}  // namespace

CpuKernels default_cpu_kernels() { return onednn::available() ? CpuKernels::Fast : CpuKernels::Reference; }

void set_cpu_kernels(CpuKernels kernels) {
  ASLNET_CHECK(kernels != CpuKernels::Fast || onednn::available())
      << "--cpu-kernels fast: this aslnet was built without oneDNN (install libdnnl-dev and rebuild), use "
         "--cpu-kernels reference";
  g_kernels = kernels;
}

CpuKernels cpu_kernels() { return g_kernels; }

const char* cpu_kernels_name(CpuKernels kernels) { return kernels == CpuKernels::Fast ? "fast" : "reference"; }

CpuKernels parse_cpu_kernels(const std::string& text) {
  if (text == "fast") return CpuKernels::Fast;
  ASLNET_CHECK(text == "reference") << "--cpu-kernels " << text << ": expected reference or fast";
  return CpuKernels::Reference;
}

}  // namespace aslnet::kernels
