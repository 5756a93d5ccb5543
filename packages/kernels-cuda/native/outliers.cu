// Outliers kept apart (FORMAT.md "outliers"): per token (or per channel) the k values of largest
// magnitude, ties to the lower index, listed in ascending index order as fp16 values and u16
// indices; the inner quantizer then encodes the block with those positions set to 0 (the caller
// runs it on `work`). One thread per list; k passes, each taking the largest (|x|, −index) below the
// previous pick, which is the CPU reference's top-k order exactly.
#include <cuda_fp16.h>
#include "check.cuh"
#include "kvq_cuda.h"

#define OUTLIERS_KMAX 64

__global__ void k_outliers_select(const float* x, uint16_t* vals, uint16_t* idx, float* work, int T, int C,
                                  int axisToken, int k, int* err) {
  const int list = blockIdx.x * blockDim.x + threadIdx.x;
  const int lists = axisToken ? T : C, range = axisToken ? C : T;
  if (list >= lists) return;
  int pick[OUTLIERS_KMAX];
  float pa = INFINITY;
  int pi = -1;
  for (int r = 0; r < k; r++) {
    float ba = -1.f;
    int bi = -1;
    for (int i = 0; i < range; i++) {
      const size_t pos = axisToken ? (size_t)list * C + i : (size_t)i * C + list;
      const float a = fabsf(x[pos]);
      const bool below = a < pa || (a == pa && i > pi);  // strictly after the previous pick
      if (below && a > ba) { ba = a; bi = i; }
    }
    pick[r] = bi;
    pa = ba;
    pi = bi;
  }
  for (int a = 1; a < k; a++) {  // ascending index order
    const int v = pick[a];
    int b = a - 1;
    while (b >= 0 && pick[b] > v) { pick[b + 1] = pick[b]; b--; }
    pick[b + 1] = v;
  }
  for (int r = 0; r < k; r++) {
    const int i = pick[r];
    const size_t pos = axisToken ? (size_t)list * C + i : (size_t)i * C + list;
    const __half h = __float2half_rn(x[pos]);
    if (__hisinf(h)) atomicExch(err, 1);
    vals[(size_t)list * k + r] = __half_as_ushort(h);
    idx[(size_t)list * k + r] = (uint16_t)i;
    work[pos] = 0.f;
  }
}

__global__ void k_outliers_scatter(const uint16_t* vals, const uint16_t* idx, float* out, int T, int C,
                                   int axisToken, int k) {
  const size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  const size_t lists = axisToken ? T : C;
  if (e >= lists * k) return;
  const size_t list = e / k, i = idx[e];
  out[axisToken ? list * C + i : i * C + list] = __half2float(__ushort_as_half(vals[e]));
}

extern "C" int kvq_outliers_kmax(void) { return OUTLIERS_KMAX; }

extern "C" int kvq_outliers_select(const float* x, uint8_t* out, float* work, int T, int C, int axisToken, int k,
                                   int* err) {
  const int range = axisToken ? C : T, lists = axisToken ? T : C;
  if (T < 0 || C <= 0 || k < 0 || k > OUTLIERS_KMAX || k > range || range > 65536) return (int)cudaErrorInvalidValue;
  const size_t n = (size_t)T * C, N = (size_t)lists * k;
  cudaError_t e = cudaMemcpyAsync(work, x, n * sizeof(float), cudaMemcpyDeviceToDevice);
  if (e != cudaSuccess) return (int)e;
  if (N == 0) return 0;
  k_outliers_select<<<kvq_blocks(lists, 128), 128>>>(x, (uint16_t*)out, (uint16_t*)(out + 2 * N), work, T, C,
                                                     axisToken, k, err);
  KVQ_LAUNCHED();
  return 0;
}

extern "C" int kvq_outliers_scatter(const uint8_t* in, float* out, int T, int C, int axisToken, int k) {
  const int lists = axisToken ? T : C;
  if (T < 0 || C <= 0 || k < 0) return (int)cudaErrorInvalidValue;
  const size_t N = (size_t)lists * k;
  if (N == 0) return 0;
  k_outliers_scatter<<<kvq_blocks(N, 256), 256>>>((const uint16_t*)in, (const uint16_t*)(in + 2 * N), out, T, C,
                                                  axisToken, k);
  KVQ_LAUNCHED();
  return 0;
}
