// The opaque GPU handle types that CPU-facing interfaces name (a Context's streams, a communicator's
// stream argument, a kernel's cuBLAS or cuDNN handle), without the CUDA headers. Each typedef is the one
// CUDA, cuBLAS and cuDNN make themselves (a pointer to an incomplete struct); C++ allows repeating a
// typedef, so this header and the libraries' own may both be included, in either order. Headers that
// only pass handles along include this, so they compile, and read the same, in a build without CUDA.
#pragma once

typedef struct CUstream_st* cudaStream_t;
typedef struct CUevent_st* cudaEvent_t;
typedef struct CUgraph_st* cudaGraph_t;
typedef struct CUgraphExec_st* cudaGraphExec_t;
typedef struct cublasContext* cublasHandle_t;
typedef struct cudnnContext* cudnnHandle_t;
