// Launch checking shared by the kernel files.
#pragma once
#include <cuda_runtime.h>
#define KVQ_LAUNCHED() do { cudaError_t e_ = cudaGetLastError(); if (e_ != cudaSuccess) return (int)e_; } while (0)
// a runtime call whose failure the launcher returns
#define KVQ_CUDA_TRY(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) return (int)e_; } while (0)
static inline unsigned kvq_blocks(size_t n, unsigned t) { return (unsigned)((n + t - 1) / t); }
// The current device's SM count, for launchers that pick a kernel build by how many blocks of a grid
// run at once.
static inline cudaError_t kvq_sm_count(int* sms) {
  int dev = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(sms, cudaDevAttrMultiProcessorCount, dev);
  return e;
}

// The dynamic shared memory limit of one kernel, raised once per device: cudaFuncSetAttribute costs
// microseconds, too much to repeat on every launch. One static instance per launch site.
struct DynSmemLimit {
  static constexpr int MAXDEV = 64;
  int raised[MAXDEV] = {};  // per device: the limit set so far (0: none)
  template <typename F>
  cudaError_t ensure(F* kernel, int bytes) {
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) return e;
    if (dev < MAXDEV && raised[dev] >= bytes) return cudaSuccess;
    e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
    if (e == cudaSuccess && dev < MAXDEV) raised[dev] = bytes;
    return e;
  }
};
