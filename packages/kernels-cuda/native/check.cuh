// Launch checking shared by the kernel files.
#pragma once
#include <cuda_runtime.h>
#define KVQ_LAUNCHED() do { cudaError_t e_ = cudaGetLastError(); if (e_ != cudaSuccess) return (int)e_; } while (0)
// a runtime call whose failure the launcher returns
#define KVQ_CUDA_TRY(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) return (int)e_; } while (0)
static inline unsigned kvq_blocks(size_t n, unsigned t) { return (unsigned)((n + t - 1) / t); }
