// The flash-decoding split combine shared by the decode-attention kernels.
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#ifndef KVQ_PDL
#define KVQ_PDL 1  // the combine is a programmatic dependent launch on cc 9.0+ (0: a plain launch, for A/B runs)
#endif

// Programmatic dependent launch (cc 9.0+, PTX griddepcontrol): the decode kernels call
// KVQ_PDL_TRIGGER() first, which lets the combine's blocks be scheduled once every decode block has
// started; the combine calls KVQ_PDL_WAIT() before its first read, which waits until the decode grid
// has finished and its writes are visible. Both are no-ops below cc 9.0, without KVQ_PDL, and (the wait)
// in a grid launched without the attribute.
#if KVQ_PDL && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define KVQ_PDL_TRIGGER() asm volatile("griddepcontrol.launch_dependents;" ::: "memory")
#define KVQ_PDL_WAIT() asm volatile("griddepcontrol.wait;" ::: "memory")
#else
#define KVQ_PDL_TRIGGER() ((void)0)
#define KVQ_PDL_WAIT() ((void)0)
#endif

// The end of a decode block: the online-softmax states its NW warps left for query head h — running
// maximum sm[w][h] (log2 units), sum sl[w][h] and accumulator sacc[w][h][·] in shared memory — merged into
// the head's partial row for channel d: maximum M, sum L and accumulator entry A.
template <int NW, class SM, class SACC>
__device__ __forceinline__ void merge_warps(SM sm, SM sl, SACC sacc, int h, int d, float& M, float& L, float& A) {
  M = -INFINITY;
  for (int w = 0; w < NW; w++) M = fmaxf(M, sm[w][h]);
  L = 0.f;
  A = 0.f;
  if (M != -INFINITY)
    for (int w = 0; w < NW; w++) {
      const float c = exp2f(sm[w][h] - M);
      L += sl[w][h] * c;
      A += sacc[w][h][d] * c;
    }
}

// The orthonormal Walsh–Hadamard transform of 128 values held one per thread of a 128-thread block
// (thread t: element t), without a barrier per stage: the butterflies over bits 0–4 of t are warp
// shuffles, those over bits 5 and 6 (across warps) one exchange through shared memory y[128]. Returns
// element t of H·x (H symmetric, entries ±1/√128). Every thread of the block must call it.
__device__ __forceinline__ float wht128_block(float v, float* y) {
  const int t = threadIdx.x;
#pragma unroll
  for (int hs = 1; hs < 32; hs <<= 1) {
    const float o = __shfl_xor_sync(0xffffffffu, v, hs);
    v = (t & hs) ? o - v : v + o;
  }
  y[t] = v;
  __syncthreads();
  const int base = t & 31;
  const float a0 = y[base], a1 = y[base | 32], a2 = y[base | 64], a3 = y[base | 96];
  const float b0 = a0 + a1, b1 = a0 - a1, b2 = a2 + a3, b3 = a2 - a3;  // bit 5
  const int i = t >> 5;                                                  // bit 6 next: element i of (c0..c3)
  const float c = i == 0 ? b0 + b2 : i == 1 ? b1 + b3 : i == 2 ? b0 - b2 : b1 - b3;
  return c * 0.08838834764831845f;  // 1/√128
}

// Merges the splits of each (sequence, query head) row: out = Σ_s A_s·2^(M_s − M*) / Σ_s L_s·2^(M_s − M*),
// from partial [rows, S, 2 + HD] fp32 (per split: max M in log2 units, sum L, accumulator A[HD]; an empty
// split has M = −∞). One block of HD threads per row. Each thread merges all splits for its channel in one
// pass, 8 splits at a time (their maxima and sums are broadcast loads, the same for every thread), with an
// online rescale: no block reduction, and the combine costs S/8 memory round trips. With ROTATE the result
// is rotated back from the Hadamard domain of HIGGS values: out = signsV ⊙ H·(A / L) with H the orthonormal
// Walsh–Hadamard matrix (HD = 128).
template <int HD, bool ROTATE>
__global__ void k_split_combine(const float* __restrict__ partial, uint16_t* __restrict__ out, int S,
                                const float* __restrict__ signsV) {
  static_assert(!ROTATE || HD == 128, "the rotation is for 128 channels");
  constexpr int R = 2 + HD;
  __shared__ float y[ROTATE ? HD : 1];
  const int t = threadIdx.x;
  const float* p = partial + (size_t)blockIdx.x * S * R;
  KVQ_PDL_WAIT();
  float m = -INFINITY, l = 0.f, A = 0.f;
  for (int s0 = 0; s0 < S; s0 += 8) {
    float ms[8], ls[8], a[8];
#pragma unroll
    for (int u = 0; u < 8; u++) {
      const bool in = s0 + u < S;
      const float* row = p + (size_t)(in ? s0 + u : 0) * R;
      ms[u] = in ? row[0] : -INFINITY;
      ls[u] = in ? row[1] : 0.f;
      a[u] = in ? row[2 + t] : 0.f;
    }
    float mb = m;
#pragma unroll
    for (int u = 0; u < 8; u++) mb = fmaxf(mb, ms[u]);
    if (mb != -INFINITY) {  // else every split so far is empty
      const float c = exp2f(m - mb);  // 0 while m = −∞
      l *= c;
      A *= c;
#pragma unroll
      for (int u = 0; u < 8; u++) {
        const float w = exp2f(ms[u] - mb);
        l = fmaf(ls[u], w, l);
        A = fmaf(a[u], w, A);
      }
      m = mb;
    }
  }
  const float res = l > 0.f ? A / l : 0.f;
  if constexpr (!ROTATE) {
    out[(size_t)blockIdx.x * HD + t] = __half_as_ushort(__float2half_rn(res));
  } else {
    out[(size_t)blockIdx.x * HD + t] = __half_as_ushort(__float2half_rn(signsV[t] * wht128_block(res, y)));
  }
}

// The launch attribute that makes a combine a programmatic dependent launch of the decode kernel launched
// just before it; *count = 1 where it applies (KVQ_PDL on a cc 9.0+ device), else 0.
inline cudaError_t pdl_attribute(cudaLaunchAttribute (&attr)[1], int* count) {
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  *count = 0;
  if (KVQ_PDL) {
    int dev = 0, major = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    if (e != cudaSuccess) return e;
    *count = major >= 9 ? 1 : 0;
  }
  return cudaSuccess;
}

// Launches k_split_combine over `rows` (sequence, query head) rows on the default stream, after the decode
// kernel launched just before it: with KVQ_PDL on a cc 9.0+ device as a programmatic dependent launch.
// Returns 0 or the cudaError_t of the launch.
template <int HD, bool ROTATE>
inline int launch_split_combine(const float* partial, uint16_t* out, int rows, int S, const float* signsV) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(rows);
  cfg.blockDim = dim3(HD);
  cudaLaunchAttribute attr[1];
  int n = 0;
  const cudaError_t e = pdl_attribute(attr, &n);
  if (e != cudaSuccess) return (int)e;
  cfg.attrs = attr;
  cfg.numAttrs = n;
  return (int)cudaLaunchKernelEx(&cfg, k_split_combine<HD, ROTATE>, partial, out, S, signsV);
}
