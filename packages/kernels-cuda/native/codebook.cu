// Codebook quantizer (FORMAT.md "codebook"): groups as the uniform quantizer's (channel axis: tokens
// of one channel; token axis: channels of one token), a per-group fp16 scale (absmax, RMS, or RMS
// around an fp16 mean), and the nearest of 2^bits fp32 levels. One thread per group computes the
// group's scale with the CPU reference's fp64 sums in the same order, then one thread per value
// picks its level, so encode and decode match the CPU bit for bit.
#include <cuda_fp16.h>
#include <math.h>
#include "bitpack.cuh"
#include "check.cuh"
#include "kvq_cuda.h"

// members of group g: value index = first + k·step, k < count
__device__ __forceinline__ void group_members(int g, int T, int C, int axisToken, int gs, size_t& first,
                                              size_t& step, int& count) {
  if (axisToken) {
    const int per = C / gs, t = g / per, c0 = (g % per) * gs;
    first = (size_t)t * C + c0;
    step = 1;
    count = gs;
  } else {
    const int tg = g / C, c = g % C, t0 = tg * gs;
    first = (size_t)t0 * C + c;
    step = C;
    count = min(gs, T - t0);
  }
}

__device__ __forceinline__ int group_of(size_t i, int C, int axisToken, int gs) {
  const int t = (int)(i / C), c = (int)(i % C);
  return axisToken ? t * (C / gs) + c / gs : (t / gs) * C + c;
}

// norm: 0 absmax, 1 rms, 2 meanrms
__global__ void k_codebook_scales(const float* x, uint16_t* scales, uint16_t* means, int nGroups, int T, int C,
                                  int axisToken, int gs, int norm, int* err) {
  const int g = blockIdx.x * blockDim.x + threadIdx.x;
  if (g >= nGroups) return;
  size_t first, step;
  int count;
  group_members(g, T, C, axisToken, gs, first, step, count);
  double acc = 0.0;
  if (norm == 2) {
    double sum = 0.0;
    for (int k = 0; k < count; k++) sum += (double)x[first + k * step];
    const __half mh = __float2half_rn((float)(count > 0 ? sum / count : 0.0));
    if (__hisinf(mh)) atomicExch(err, 1);
    means[g] = __half_as_ushort(mh);
    const double mean = (double)__half2float(mh);
    for (int k = 0; k < count; k++) {
      const double d = (double)x[first + k * step] - mean;
      acc += d * d;
    }
    acc = count > 0 ? sqrt(acc / count) : 0.0;
  } else if (norm == 0) {
    for (int k = 0; k < count; k++) acc = fmax(acc, fabs((double)x[first + k * step]));
  } else {
    for (int k = 0; k < count; k++) {
      const double v = (double)x[first + k * step];
      acc += v * v;
    }
    acc = count > 0 ? sqrt(acc / count) : 0.0;
  }
  const __half h = __float2half_rn((float)acc);
  if (__hisinf(h)) atomicExch(err, 1);
  scales[g] = __half_as_ushort(h);
}

__global__ void k_codebook_codes(const float* x, const uint16_t* scales, const uint16_t* means, uint16_t* codes,
                                 size_t n, int C, int axisToken, int gs, const double* mids, int nMids, int zeroCode) {
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int g = group_of(i, C, axisToken, gs);
  const float s = __half2float(__ushort_as_half(scales[g]));
  int code = zeroCode;
  if (s != 0.f) {
    const float v = means ? x[i] - __half2float(__ushort_as_half(means[g])) : x[i];
    const float z = v / s;
    int lo = 0, hi = nMids;
    while (lo < hi) {
      const int m = (lo + hi) >> 1;
      if ((double)z > mids[m]) lo = m + 1;
      else hi = m;
    }
    code = lo;
  }
  codes[i] = (uint16_t)code;
}

__global__ void k_codebook_decode(const uint8_t* in, float* out, size_t n, int nGroups, int C, int axisToken, int gs,
                                  int bits, int centered, const float* levels) {
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int g = group_of(i, C, axisToken, gs);
  const uint16_t* f = (const uint16_t*)in;
  const float s = __half2float(__ushort_as_half(f[g]));
  const uint8_t* codes = in + (size_t)2 * nGroups * (centered ? 2 : 1);
  const float L = levels[kvq_unpack_code(codes, (n * bits + 7) / 8, i, bits)];
  out[i] = centered ? fmaf(L, s, __half2float(__ushort_as_half(f[nGroups + g]))) : L * s;
}

static int codebook_groups(int T, int C, int axisToken, int gs) {
  if (gs <= 0 || T < 0 || C <= 0) return -1;
  if (axisToken) return C % gs ? -1 : T * (C / gs);
  return ((T + gs - 1) / gs) * C;
}

extern "C" int kvq_codebook_encode(const float* x, uint8_t* out, uint16_t* codes, int T, int C, int bits,
                                   int axisToken, int gs, int norm, const double* mids, int zeroCode, int* err) {
  const int nGroups = codebook_groups(T, C, axisToken, gs);
  if (nGroups < 0 || bits < 1 || bits > 8 || norm < 0 || norm > 2) return (int)cudaErrorInvalidValue;
  const size_t n = (size_t)T * C;
  if (n == 0) return 0;
  uint16_t* scales = (uint16_t*)out;
  uint16_t* means = norm == 2 ? scales + nGroups : nullptr;
  k_codebook_scales<<<kvq_blocks(nGroups, 128), 128>>>(x, scales, means, nGroups, T, C, axisToken, gs, norm, err);
  KVQ_LAUNCHED();
  k_codebook_codes<<<kvq_blocks(n, 256), 256>>>(x, scales, means, codes, n, C, axisToken, gs, mids,
                                                 (1 << bits) - 1, zeroCode);
  KVQ_LAUNCHED();
  return kvq_pack(codes, out + (size_t)2 * nGroups * (norm == 2 ? 2 : 1), n, bits);
}

extern "C" int kvq_codebook_decode(const uint8_t* in, float* out, int T, int C, int bits, int axisToken, int gs,
                                   int norm, const float* levels) {
  const int nGroups = codebook_groups(T, C, axisToken, gs);
  if (nGroups < 0 || bits < 1 || bits > 8 || norm < 0 || norm > 2) return (int)cudaErrorInvalidValue;
  const size_t n = (size_t)T * C;
  if (n == 0) return 0;
  k_codebook_decode<<<kvq_blocks(n, 256), 256>>>(in, out, n, nGroups, C, axisToken, gs, bits, norm == 2, levels);
  KVQ_LAUNCHED();
  return 0;
}
