// ASLNET_VECTORIZE: compiles a hot CPU loop three times, for the x86-64 baseline (SSE2), AVX2 and
// AVX-512, and lets the loader pick the widest the CPU has when the program starts (GCC's
// target_clones, resolved once through an ifunc). The project builds for any x86-64, so without this
// the element-wise loops of the CPU backend (ReLU, batch norm, pooling, the optimizer) ran on 4-wide
// SSE2 vectors on a CPU with 16-wide ones.
//
// Same results on every CPU: the files that use it are compiled with -ffp-contract=off (CMakeLists.txt,
// ASLNET_VECTORIZED_SOURCES), because AVX-512 brings FMA and GCC would otherwise fuse a * b + c into one
// rounding on some machines and two on others. The loops it marks must not reduce across iterations in
// float (GCC does not reorder such sums without -ffast-math anyway), so every width gives the same bits.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define ASLNET_VECTORIZE __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define ASLNET_VECTORIZE
#endif
