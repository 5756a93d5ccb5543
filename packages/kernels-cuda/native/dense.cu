// Dense fp32 ops of the reference decoder: linear, RMSNorm, RoPE, SwiGLU, causal GQA attention.
#include <math.h>
#include "check.cuh"
#include "kvq_cuda.h"

// one warp per output element (rows × outDim), fp32 FMA, no tf32
__global__ void k_linear(const float* x, const float* w, const float* bias, float* y, int rows, int inDim, int outDim) {
  size_t warp = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) / 32;
  int lane = threadIdx.x & 31;
  if (warp >= (size_t)rows * outDim) return;
  int r = (int)(warp / outDim), o = (int)(warp % outDim);
  const float* xr = x + (size_t)r * inDim;
  const float* wo = w + (size_t)o * inDim;
  float s = 0.f;
  for (int i = lane; i < inDim; i += 32) s = fmaf(xr[i], wo[i], s);
  for (int d = 16; d; d >>= 1) s += __shfl_xor_sync(0xffffffffu, s, d);
  if (lane == 0) y[warp] = s + (bias ? bias[o] : 0.f);
}

__global__ void k_rmsnorm(const float* x, const float* w, float* y, int dim, float eps) {
  __shared__ float red[32];
  const float* xr = x + (size_t)blockIdx.x * dim;
  float s = 0.f;
  for (int i = threadIdx.x; i < dim; i += blockDim.x) s = fmaf(xr[i], xr[i], s);
  for (int d = 16; d; d >>= 1) s += __shfl_xor_sync(0xffffffffu, s, d);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x / 32] = s;
  __syncthreads();
  if (threadIdx.x < 32) {
    s = threadIdx.x < blockDim.x / 32 ? red[threadIdx.x] : 0.f;
    for (int d = 16; d; d >>= 1) s += __shfl_xor_sync(0xffffffffu, s, d);
    if (threadIdx.x == 0) red[0] = s;
  }
  __syncthreads();
  float inv = (float)(1.0 / sqrt((double)red[0] / dim + (double)eps));
  for (int i = threadIdx.x; i < dim; i += blockDim.x) y[(size_t)blockIdx.x * dim + i] = xr[i] * inv * w[i];
}

// one thread per rotated pair; angles in double as the CPU reference computes them
__global__ void k_rope(const float* x, float* y, const int* pos, int tokens, int heads, int headDim, int dims,
                       double theta, double scale, int neox, int inverse) {
  size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  int half = dims / 2;
  if (idx >= (size_t)tokens * heads * half) return;
  int i = (int)(idx % half);
  size_t th = idx / half;
  int t = (int)(th / heads);
  size_t o = th * headDim;
  double a = (pos[t] / scale) * pow(theta, -(2.0 * i) / dims);
  float c = (float)cos(a), s = (float)sin(a);
  if (inverse) s = -s;
  size_t i0 = neox ? o + i : o + 2 * i;
  size_t i1 = neox ? o + i + half : i0 + 1;
  float u = x[i0], v = x[i1];
  y[i0] = u * c - v * s;
  y[i1] = u * s + v * c;
}
__global__ void k_copy_tail(const float* x, float* y, int rows, int headDim, int dims) {
  size_t idx = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  int rest = headDim - dims;
  if (idx >= (size_t)rows * rest) return;
  size_t r = idx / rest;
  int d = dims + (int)(idx % rest);
  y[r * headDim + d] = x[r * headDim + d];
}

__global__ void k_swiglu(const float* g, const float* u, float* y, size_t n) {
  size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (i < n) y[i] = (g[i] / (1.f + expf(-g[i]))) * u[i];
}

// one block per (query token, q head); scores in dynamic shared memory (N floats)
__global__ void k_attention_f32(const float* q, const float* k, const float* v, float* out, int Hq, int Hkv,
                                int D, int N, int qStart, float scale) {
  extern __shared__ float sc[];
  __shared__ float red[32];
  int qi = blockIdx.x / Hq, h = blockIdx.x % Hq, kh = h / (Hq / Hkv);
  int last = min(N - 1, qStart + qi);
  const float* qv = q + ((size_t)qi * Hq + h) * D;
  int warp = threadIdx.x / 32, lane = threadIdx.x & 31, nw = blockDim.x / 32;
  for (int j = warp; j <= last; j += nw) {
    const float* kv = k + ((size_t)j * Hkv + kh) * D;
    float s = 0.f;
    for (int d = lane; d < D; d += 32) s = fmaf(qv[d], kv[d], s);
    for (int o = 16; o; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (lane == 0) sc[j] = s * scale;
  }
  __syncthreads();
  float m = -INFINITY;
  for (int j = threadIdx.x; j <= last; j += blockDim.x) m = fmaxf(m, sc[j]);
  for (int o = 16; o; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  if (lane == 0) red[warp] = m;
  __syncthreads();
  m = -INFINITY;
  for (int w = 0; w < nw; w++) m = fmaxf(m, red[w]);
  __syncthreads();
  float l = 0.f;
  for (int j = threadIdx.x; j <= last; j += blockDim.x) {
    float p = expf(sc[j] - m);
    sc[j] = p;
    l += p;
  }
  for (int o = 16; o; o >>= 1) l += __shfl_xor_sync(0xffffffffu, l, o);
  if (lane == 0) red[warp] = l;
  __syncthreads();
  l = 0.f;
  for (int w = 0; w < nw; w++) l += red[w];
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float acc = 0.f;
    for (int j = 0; j <= last; j++) acc = fmaf(sc[j], v[((size_t)j * Hkv + kh) * D + d], acc);
    out[((size_t)qi * Hq + h) * D + d] = last < 0 ? 0.f : acc / l;
  }
}

extern "C" {
int kvq_linear(const float* x, const float* w, const float* bias, float* y, int rows, int inDim, int outDim) {
  size_t warps = (size_t)rows * outDim;
  if (!warps) return 0;
  k_linear<<<kvq_blocks(warps * 32, 256), 256>>>(x, w, bias, y, rows, inDim, outDim);
  KVQ_LAUNCHED();
  return 0;
}
int kvq_rmsnorm(const float* x, const float* w, float* y, int rows, int dim, float eps) {
  if (!rows) return 0;
  k_rmsnorm<<<rows, 256>>>(x, w, y, dim, eps);
  KVQ_LAUNCHED();
  return 0;
}
int kvq_rope(const float* x, float* y, const int* pos, int tokens, int heads, int headDim, int dims, float theta,
             float scale, int neox, int inverse) {
  if (dims % 2 || dims > headDim || dims <= 0) return (int)cudaErrorInvalidValue;
  size_t pairs = (size_t)tokens * heads * (dims / 2);
  if (!pairs) return 0;
  k_rope<<<kvq_blocks(pairs, 256), 256>>>(x, y, pos, tokens, heads, headDim, dims, theta, scale, neox, inverse);
  KVQ_LAUNCHED();
  if (dims < headDim) {
    size_t n = (size_t)tokens * heads * (headDim - dims);
    k_copy_tail<<<kvq_blocks(n, 256), 256>>>(x, y, tokens * heads, headDim, dims);
    KVQ_LAUNCHED();
  }
  return 0;
}
int kvq_swiglu(const float* g, const float* u, float* y, size_t n) {
  if (!n) return 0;
  k_swiglu<<<kvq_blocks(n, 256), 256>>>(g, u, y, n);
  KVQ_LAUNCHED();
  return 0;
}
int kvq_attention_f32(const float* q, const float* k, const float* v, float* out, int Q, int Hq, int Hkv, int D,
                      int N, int qStart, float scale) {
  if (!Q) return 0;
  if (Hkv <= 0 || Hq % Hkv) return (int)cudaErrorInvalidValue;
  size_t shm = (size_t)(N > 0 ? N : 1) * sizeof(float);
  if (shm > 48 * 1024) {
    static DynSmemLimit smem;
    KVQ_CUDA_TRY(smem.ensure(k_attention_f32, (int)shm));
  }
  k_attention_f32<<<Q * Hq, 128, shm>>>(q, k, v, out, Hq, Hkv, D, N, qStart, scale);
  KVQ_LAUNCHED();
  return 0;
}
}
