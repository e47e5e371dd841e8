// How many threads oneDNN runs on. Debian's libdnnl2 is built on OpenMP (GNU libgomp: its
// dnnl_config.h says DNNL_CPU_RUNTIME_OMP, and ldd lists libgomp), so its thread count is OpenMP's
// per-thread setting, not a process-wide one: a step may run on another thread than the one that read
// --threads (a replica's thread, serve's worker). So every oneDNN call first makes its own thread's
// OpenMP count equal to the engine's (Context::cpu_threads(), which --threads sets, as for OpenBLAS
// and parallel_for).
//
// Sharing the cores: the engine's ops run one after another, so oneDNN's OpenMP team, OpenBLAS's
// threads and parallel_for's pool take turns with the same cores rather than running at once; each
// pool sleeps between its calls (libgomp spins only briefly, GOMP_SPINCOUNT, before it sleeps). The
// loader's decode threads are extra threads on top, as before: `aslnet train` divides the cores
// between replicas and leaves the loader to fill the gaps (it works ahead while a step computes).
#pragma once

namespace aslnet::kernels::onednn {

void use_engine_threads();

}  // namespace aslnet::kernels::onednn
