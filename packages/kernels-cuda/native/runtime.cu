// Device discovery, memory and timing: thin checked wrappers over the CUDA runtime.
#include <cuda_runtime.h>
#include <string.h>
#include "kvq_cuda.h"

extern "C" {
const char* kvq_error_string(int code) { return cudaGetErrorString((cudaError_t)code); }
const char* kvq_error_name(int code) { return cudaGetErrorName((cudaError_t)code); }
int kvq_driver_version(int* v) { return (int)cudaDriverGetVersion(v); }
int kvq_device_count(int* count) { return (int)cudaGetDeviceCount(count); }
int kvq_device_props(int dev, char* name, int nameLen, int* major, int* minor, int* sms, size_t* totalMem) {
  cudaDeviceProp p;
  cudaError_t e = cudaGetDeviceProperties(&p, dev);
  if (e != cudaSuccess) return (int)e;
  strncpy(name, p.name, nameLen - 1);
  name[nameLen - 1] = 0;
  *major = p.major;
  *minor = p.minor;
  *sms = p.multiProcessorCount;
  *totalMem = p.totalGlobalMem;
  return 0;
}
int kvq_set_device(int dev) { return (int)cudaSetDevice(dev); }
int kvq_mem_info(size_t* f, size_t* t) { return (int)cudaMemGetInfo(f, t); }
int kvq_malloc(void** p, size_t bytes) {
  cudaError_t e = cudaMalloc(p, bytes == 0 ? 1 : bytes);
  if (e != cudaSuccess) cudaGetLastError();  // clear the sticky-free allocation error
  return (int)e;
}
int kvq_free(void* p) { return (int)cudaFree(p); }
int kvq_h2d(void* d, const void* s, size_t n) { return n ? (int)cudaMemcpy(d, s, n, cudaMemcpyHostToDevice) : 0; }
int kvq_d2h(void* d, const void* s, size_t n) { return n ? (int)cudaMemcpy(d, s, n, cudaMemcpyDeviceToHost) : 0; }
int kvq_d2d(void* d, const void* s, size_t n) { return n ? (int)cudaMemcpy(d, s, n, cudaMemcpyDeviceToDevice) : 0; }
int kvq_d2d_2d(void* d, size_t dpitch, const void* s, size_t spitch, size_t width, size_t height) {
  return width && height ? (int)cudaMemcpy2D(d, dpitch, s, spitch, width, height, cudaMemcpyDeviceToDevice) : 0;
}
int kvq_memset(void* p, int v, size_t n) { return n ? (int)cudaMemset(p, v, n) : 0; }
int kvq_sync(void) { return (int)cudaDeviceSynchronize(); }

// Keeps the GPU busy for `ns` nanoseconds (global timer), so that work the host enqueues behind it
// starts back to back and the events around that work time the GPU alone, not the host's launches.
__global__ void k_busy(unsigned long long ns) {
  unsigned long long t0, t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  do asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)); while (t - t0 < ns);
}
static cudaEvent_t g_ev0 = nullptr, g_ev1 = nullptr;
int kvq_event_begin(int busyNs) {
  cudaError_t e;
  if (!g_ev0) {
    if ((e = cudaEventCreate(&g_ev0)) != cudaSuccess) return (int)e;
    if ((e = cudaEventCreate(&g_ev1)) != cudaSuccess) return (int)e;
  }
  if (busyNs > 0) {
    k_busy<<<1, 1>>>((unsigned long long)busyNs);
    if ((e = cudaGetLastError()) != cudaSuccess) return (int)e;
  }
  return (int)cudaEventRecord(g_ev0);
}
int kvq_event_end(float* ms) {
  cudaError_t e;
  if (!g_ev0) return (int)cudaErrorInvalidResourceHandle;
  if ((e = cudaEventRecord(g_ev1)) != cudaSuccess) return (int)e;
  if ((e = cudaEventSynchronize(g_ev1)) != cudaSuccess) return (int)e;
  return (int)cudaEventElapsedTime(ms, g_ev0, g_ev1);
}
}
