#include "kernels/onednn/threads.h"

#include <omp.h>

#include <unistd.h>

#include <cstdlib>
#include <string>

#include "engine/core/context.h"
#include "kernels/cpu_kernels.h"

namespace aslnet::kernels::onednn {


void use_engine_threads() {
  const int threads = Context::cpu_threads();
  if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
}

}  // namespace aslnet::kernels::onednn

namespace aslnet::kernels {

// OpenMP's idle threads must sleep, not spin. libgomp's default (OMP_WAIT_POLICY unset) spins
// GOMP_SPINCOUNT = 300,000 pause instructions after every parallel region before it sleeps: ~15 ms on a
// CPU whose pause takes ~140 cycles (Sapphire Rapids), on cores the engine's next op (parallel_for,
// OpenBLAS) needs. Measured with aslnet bench kernels on 2 cores: every oneDNN convolution then took a
// scheduler quantum (~16 ms), and the fast kernels ran at 0.33x the reference instead of 1.4x.
// libgomp reads its environment once, in its constructor, before main, and has no call to change the
// policy later (setenv from .preinit_array is undone when libc's own initialisation resets environ).
// So the program starts itself again with OMP_WAIT_POLICY=PASSIVE; a policy or spin count the user
// set is kept.
void use_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  setenv("ASLNET_SET_OMP_WAIT_POLICY", "1", 1);  // so that peers (torchvision) can be run without it
  execv("/proc/self/exe", argv);
  // execv returned: it failed, and this process goes on as it is, only slower.
}

std::string peer_environment_prefix() {
  return std::getenv("ASLNET_SET_OMP_WAIT_POLICY") != nullptr ? "env -u OMP_WAIT_POLICY " : "";
}

}  // namespace aslnet::kernels
