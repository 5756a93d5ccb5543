// HIGGS quantizer (FORMAT.md "higgs"): per token and Hadamard block of B channels, seeded signs, the
// normalized fast Walsh–Hadamard transform, an fp16 RMS scale and the nearest point of a Gaussian
// grid (scalar Lloyd-Max levels, or 2-D points). One CUDA block per (block j, token t); the
// butterflies run in shared memory in the same order as the CPU reference, so encode and decode
// match it bit for bit (the RMS sum is fp64, as on the CPU, in a different order: its fp32/fp16
// rounding can differ only at an exact rounding boundary).
#include <cuda_fp16.h>
#include <math.h>
#include "bitpack.cuh"
#include "check.cuh"
#include "kvq_cuda.h"

#define HIGGS_MAX_BLOCK 4096

__device__ void fwht_smem(float* y, int B, float norm) {
  for (int h = 1; h < B; h <<= 1) {
    for (int pr = threadIdx.x; pr < B / 2; pr += blockDim.x) {
      const int k = (pr / h) * 2 * h + (pr % h);
      const float a = y[k], b = y[k + h];
      y[k] = a + b;
      y[k + h] = a - b;
    }
    __syncthreads();
  }
  for (int i = threadIdx.x; i < B; i += blockDim.x) y[i] = y[i] * norm;
  __syncthreads();
}

__global__ void k_higgs_encode(const float* x, uint8_t* out, uint16_t* codes, int C, int B, int dim,
                               const float* table, int tableLen, const double* mids, const float* signs, float norm,
                               double gain, int zeroCode, int* err) {
  extern __shared__ float y[];
  __shared__ double red[32];
  __shared__ float sS;
  const int nb = C / B, j = blockIdx.x % nb, t = blockIdx.x / nb;
  const size_t base = (size_t)t * C + (size_t)j * B;
  for (int i = threadIdx.x; i < B; i += blockDim.x) y[i] = signs[i] * x[base + i];
  __syncthreads();
  fwht_smem(y, B, norm);
  double ss = 0.0;
  for (int i = threadIdx.x; i < B; i += blockDim.x) ss += (double)y[i] * (double)y[i];
  for (int o = 16; o; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = ss;
  __syncthreads();
  if (threadIdx.x == 0) {
    double tot = 0.0;
    for (int w = 0; w < (int)(blockDim.x + 31) / 32; w++) tot += red[w];
    const float rms = (float)sqrt(tot / B);
    const __half h = __float2half_rn(rms);
    const __half stored = gain == 1.0 ? h : __float2half_rn((float)((double)rms * gain));
    if (__hisinf(h) || __hisinf(stored)) atomicExch(err, 1);
    ((uint16_t*)out)[(size_t)t * nb + j] = __half_as_ushort(stored);
    sS = __half2float(h);
  }
  __syncthreads();
  const float s = sS;
  if (dim == 1) {
    for (int i = threadIdx.x; i < B; i += blockDim.x) {
      int code = zeroCode;
      if (s != 0.f) {
        const float z = y[i] / s;
        int lo = 0, hi = tableLen - 1;  // binary search over the midpoints (tie → lower level)
        while (lo < hi) {
          const int m = (lo + hi) >> 1;
          if ((double)z > mids[m]) lo = m + 1;
          else hi = m;
        }
        code = lo;
      }
      codes[base + i] = (uint16_t)code;
    }
  } else {
    for (int p = threadIdx.x; p < B / 2; p += blockDim.x) {
      int code = zeroCode;
      if (s != 0.f) {
        const double zx = (double)(y[2 * p] / s), zy = (double)(y[2 * p + 1] / s);
        double bd = INFINITY;
        for (int k = 0; k < tableLen; k++) {  // brute force, fp64, tie → lowest index
          const double dx = zx - (double)table[2 * k], dy = zy - (double)table[2 * k + 1];
          const double d = dx * dx + dy * dy;
          if (d < bd) { bd = d; code = k; }
        }
      }
      codes[(base >> 1) + p] = (uint16_t)code;
    }
  }
}

__global__ void k_higgs_decode(const uint8_t* in, float* out, int T, int C, int B, int dim, int codeBits,
                               size_t packed, const float* table, const float* signs, float norm) {
  extern __shared__ float y[];
  const int nb = C / B, j = blockIdx.x % nb, t = blockIdx.x / nb;
  const size_t base = (size_t)t * C + (size_t)j * B;
  const float s = __half2float(__ushort_as_half(((const uint16_t*)in)[(size_t)t * nb + j]));
  const uint8_t* codes = in + (size_t)2 * T * nb;
  for (int i = threadIdx.x; i < B; i += blockDim.x) {
    float v;
    if (dim == 1) v = table[kvq_unpack_code(codes, packed, base + i, codeBits)];
    else v = table[2 * kvq_unpack_code(codes, packed, (base >> 1) + (i >> 1), codeBits) + (i & 1)];
    y[i] = v * s;
  }
  __syncthreads();
  fwht_smem(y, B, norm);
  for (int i = threadIdx.x; i < B; i += blockDim.x) out[base + i] = signs[i] * y[i];
}

static int higgs_args_ok(int T, int C, int B, int dim, int codeBits) {
  return T >= 0 && (size_t)T * (size_t)(C / (B > 0 ? B : 1)) < 0x7fffffffu && B >= 2 && B <= HIGGS_MAX_BLOCK && (B & (B - 1)) == 0 && C % B == 0 && (dim == 1 || dim == 2) &&
         codeBits >= 1 && codeBits <= 16;
}
static unsigned higgs_threads(int B) { return (unsigned)(B / 2 < 32 ? 32 : B / 2 > 512 ? 512 : B / 2); }

extern "C" int kvq_higgs_max_block(void) { return HIGGS_MAX_BLOCK; }

extern "C" int kvq_higgs_encode(const float* x, uint8_t* out, uint16_t* codes, int T, int C, int B, int dim,
                                int codeBits, const float* table, int tableLen, const double* mids,
                                const float* signs, float norm, double gain, int zeroCode, int* err) {
  if (!higgs_args_ok(T, C, B, dim, codeBits) || tableLen < 1) return (int)cudaErrorInvalidValue;
  if (T == 0) return 0;
  const unsigned grid = (unsigned)((size_t)T * (C / B));
  k_higgs_encode<<<grid, higgs_threads(B), B * sizeof(float)>>>(x, out, codes, C, B, dim, table, tableLen, mids,
                                                                signs, norm, gain, zeroCode, err);
  KVQ_LAUNCHED();
  const size_t n = dim == 1 ? (size_t)T * C : (size_t)T * C / 2;
  return kvq_pack(codes, out + (size_t)2 * T * (C / B), n, codeBits);
}

extern "C" int kvq_higgs_decode(const uint8_t* in, float* out, int T, int C, int B, int dim, int codeBits,
                                const float* table, const float* signs, float norm) {
  if (!higgs_args_ok(T, C, B, dim, codeBits)) return (int)cudaErrorInvalidValue;
  if (T == 0) return 0;
  const size_t n = dim == 1 ? (size_t)T * C : (size_t)T * C / 2;
  const unsigned grid = (unsigned)((size_t)T * (C / B));
  k_higgs_decode<<<grid, higgs_threads(B), B * sizeof(float)>>>(in, out, T, C, B, dim, codeBits,
                                                                (n * codeBits + 7) / 8, table, signs, norm);
  KVQ_LAUNCHED();
  return 0;
}
