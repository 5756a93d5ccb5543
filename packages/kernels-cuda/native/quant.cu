// Quantizer kernels: fp16/bf16 passthrough, fp8 e4m3fn, uniform per-group (FORMAT.md byte layouts).
#include <cuda_fp16.h>
#include <stdint.h>
#include "check.cuh"
#include "kvq_cuda.h"

__device__ __forceinline__ uint16_t f32_to_bf16_rne(float f) {
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}
__device__ __forceinline__ float bf16_to_f32(uint16_t h) { return __uint_as_float(((uint32_t)h) << 16); }

__global__ void k_fp16_encode(const float* x, uint16_t* out, size_t n, int bf16) {
  size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (i >= n) return;
  out[i] = bf16 ? f32_to_bf16_rne(x[i]) : __half_as_ushort(__float2half_rn(x[i]));
}
__global__ void k_fp16_decode(const uint16_t* in, float* out, size_t n, int bf16) {
  size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (i >= n) return;
  out[i] = bf16 ? bf16_to_f32(in[i]) : __half2float(__ushort_as_half(in[i]));
}

// bit-exact port of core's f32BitsToE4m3 (RNE, saturating to ±448)
__device__ __forceinline__ uint8_t f32_to_e4m3(float f) {
  uint32_t x = __float_as_uint(f);
  uint32_t sign = (x >> 24) & 0x80u;
  uint32_t a = x & 0x7fffffffu;
  if (a > 0x7f800000u) return (uint8_t)(sign | 0x7f);
  if (a >= 0x43e00000u) return (uint8_t)(sign | 0x7e);
  if (a >= 0x3c800000u) {
    uint32_t r = a - 0x3c000000u;
    uint32_t q = (r + 0x7ffffu + ((r >> 20) & 1u)) >> 20;
    return (uint8_t)(sign | (q > 0x7e ? 0x7e : q));
  }
  if (a < 0x3a000000u) return (uint8_t)sign;
  uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, shift = 141 - e;
  uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u))) q++;
  return (uint8_t)(sign | q);
}
__device__ __forceinline__ float e4m3_to_f32(uint8_t b) {
  float s = (b & 0x80) ? -1.f : 1.f;
  int e = (b >> 3) & 0xf, m = b & 7;
  if (e == 15 && m == 7) return __int_as_float(0x7fc00000);
  if (e == 0) return s * (float)m * 0.001953125f;
  return s * (1.f + m * 0.125f) * ldexpf(1.f, e - 7);
}
__global__ void k_fp8_encode(const float* x, uint8_t* out, size_t n) {
  size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (i < n) out[i] = f32_to_e4m3(x[i]);
}
__global__ void k_fp8_decode(const uint8_t* in, float* out, size_t n) {
  size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (i < n) out[i] = e4m3_to_f32(in[i]);
}

__device__ __forceinline__ float ld(const float* p, size_t i) { return p[i]; }
__device__ __forceinline__ float ld(const uint16_t* p, size_t i) { return __half2float(__ushort_as_half(p[i])); }
__device__ __forceinline__ void st(float* p, size_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(uint16_t* p, size_t i, float v) { p[i] = __half_as_ushort(__float2half_rn(v)); }

// one thread per group: min/max, then fp16 scale=(max-min)/levels and min, as core computes them
template <typename In>
__global__ void k_uniform_stats(const In* x, uint16_t* scales, uint16_t* mins, int T, int C, int levels,
                                int axisToken, int gs, int nGroups) {
  int g = blockIdx.x * blockDim.x + threadIdx.x;
  if (g >= nGroups) return;
  float lo = __int_as_float(0x7f800000), hi = -lo;
  if (!axisToken) {
    int tg = g / C, c = g % C;
    int t1 = min(T, tg * gs + gs);
    for (int t = tg * gs; t < t1; t++) {
      float v = ld(x, (size_t)t * C + c);
      lo = fminf(lo, v);
      hi = fmaxf(hi, v);
    }
  } else {
    int per = C / gs, t = g / per, cg = g % per;
    size_t base = (size_t)t * C + (size_t)cg * gs;
    for (int c = 0; c < gs; c++) {
      float v = ld(x, base + c);
      lo = fminf(lo, v);
      hi = fmaxf(hi, v);
    }
  }
  float range = __fsub_rn(hi, lo);
  scales[g] = __half_as_ushort(__float2half_rn(__fdiv_rn(range, (float)levels)));
  mins[g] = __half_as_ushort(__float2half_rn(lo));
}

__device__ __forceinline__ int group_of(int t, int c, int C, int axisToken, int gs) {
  return axisToken ? t * (C / gs) + c / gs : (t / gs) * C + c;
}

// one thread per 8 consecutive values (C % 8 == 0): 8 codes = `bits` whole bytes, LSB-first
template <typename In>
__global__ void k_uniform_codes(const In* x, const uint16_t* scales, const uint16_t* mins, uint8_t* codes,
                                int T, int C, int bits, int axisToken, int gs) {
  size_t oct = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  size_t n = (size_t)T * C;
  if (oct * 8 >= n) return;
  int levels = (1 << bits) - 1;
  uint64_t word = 0;
  for (int j = 0; j < 8; j++) {
    size_t i = oct * 8 + j;
    int t = (int)(i / C), c = (int)(i % C);
    int g = group_of(t, c, C, axisToken, gs);
    float s = __half2float(__ushort_as_half(scales[g]));
    float m = __half2float(__ushort_as_half(mins[g]));
    int q = 0;
    if (s != 0.f) {
      q = (int)roundf(__fdiv_rn(__fsub_rn(ld(x, i), m), s));  // half away from zero, as core
      q = q < 0 ? 0 : (q > levels ? levels : q);
    }
    word |= (uint64_t)q << (j * bits);
  }
  uint8_t* dst = codes + oct * bits;
  for (int b = 0; b < bits; b++) dst[b] = (uint8_t)(word >> (8 * b));
}

template <typename Out>
__global__ void k_uniform_decode(const uint16_t* scales, const uint16_t* mins, const uint8_t* codes, Out* out,
                                 int T, int C, int bits, int axisToken, int gs) {
  size_t oct = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  size_t n = (size_t)T * C;
  if (oct * 8 >= n) return;
  int mask = (1 << bits) - 1;
  uint64_t word = 0;
  const uint8_t* src = codes + oct * bits;
  if (bits == 2) word = *(const uint16_t*)src;
  else if (bits == 4) word = *(const uint32_t*)src;
  else for (int b = 0; b < bits; b++) word |= (uint64_t)src[b] << (8 * b);
  for (int j = 0; j < 8; j++) {
    size_t i = oct * 8 + j;
    int t = (int)(i / C), c = (int)(i % C);
    int g = group_of(t, c, C, axisToken, gs);
    float s = __half2float(__ushort_as_half(scales[g]));
    float m = __half2float(__ushort_as_half(mins[g]));
    int q = (int)((word >> (j * bits)) & mask);
    st(out, i, __fadd_rn(m, __fmul_rn((float)q, s)));
  }
}

static size_t n_groups(int T, int C, int axisToken, int gs) {
  return axisToken ? (size_t)T * (C / gs) : (size_t)((T + gs - 1) / gs) * C;
}

extern "C" size_t kvq_uniform_bytes(int T, int C, int bits, int axisToken, int gs) {
  return n_groups(T, C, axisToken, gs) * 4 + ((size_t)T * C * bits + 7) / 8;
}

static int uniform_args_ok(int T, int C, int bits, int axisToken, int gs) {
  if (bits < 1 || bits > 8 || C % 8 != 0 || gs <= 0 || T < 0) return 0;
  if (axisToken && (C % gs != 0)) return 0;
  return 1;
}

template <typename In>
static int uniform_encode(const In* x, uint8_t* out, int T, int C, int bits, int axisToken, int gs) {
  if (!uniform_args_ok(T, C, bits, axisToken, gs)) return (int)cudaErrorInvalidValue;
  size_t G = n_groups(T, C, axisToken, gs);
  if (T == 0) return 0;
  uint16_t* scales = (uint16_t*)out;
  uint16_t* mins = scales + G;
  k_uniform_stats<In><<<kvq_blocks(G, 256), 256>>>(x, scales, mins, T, C, (1 << bits) - 1, axisToken, gs, (int)G);
  KVQ_LAUNCHED();
  size_t octs = (size_t)T * C / 8;
  k_uniform_codes<In><<<kvq_blocks(octs, 256), 256>>>(x, scales, mins, out + G * 4, T, C, bits, axisToken, gs);
  KVQ_LAUNCHED();
  return 0;
}
template <typename Out>
static int uniform_decode(const uint8_t* in, Out* out, int T, int C, int bits, int axisToken, int gs) {
  if (!uniform_args_ok(T, C, bits, axisToken, gs)) return (int)cudaErrorInvalidValue;
  size_t G = n_groups(T, C, axisToken, gs);
  if (T == 0) return 0;
  const uint16_t* scales = (const uint16_t*)in;
  size_t octs = (size_t)T * C / 8;
  k_uniform_decode<Out><<<kvq_blocks(octs, 256), 256>>>(scales, scales + G, in + G * 4, out, T, C, bits, axisToken, gs);
  KVQ_LAUNCHED();
  return 0;
}

extern "C" {
int kvq_fp16_encode(const float* x, uint16_t* out, size_t n, int bf16) {
  if (!n) return 0;
  k_fp16_encode<<<kvq_blocks(n, 256), 256>>>(x, out, n, bf16);
  KVQ_LAUNCHED();
  return 0;
}
int kvq_fp16_decode(const uint16_t* in, float* out, size_t n, int bf16) {
  if (!n) return 0;
  k_fp16_decode<<<kvq_blocks(n, 256), 256>>>(in, out, n, bf16);
  KVQ_LAUNCHED();
  return 0;
}
int kvq_fp8_encode(const float* x, uint8_t* out, size_t n) {
  if (!n) return 0;
  k_fp8_encode<<<kvq_blocks(n, 256), 256>>>(x, out, n);
  KVQ_LAUNCHED();
  return 0;
}
int kvq_fp8_decode(const uint8_t* in, float* out, size_t n) {
  if (!n) return 0;
  k_fp8_decode<<<kvq_blocks(n, 256), 256>>>(in, out, n);
  KVQ_LAUNCHED();
  return 0;
}
int kvq_uniform_encode(const float* x, uint8_t* out, uint8_t*, int T, int C, int bits, int axisToken, int gs) {
  return uniform_encode<float>(x, out, T, C, bits, axisToken, gs);
}
int kvq_uniform_decode(const uint8_t* in, float* out, int T, int C, int bits, int axisToken, int gs) {
  return uniform_decode<float>(in, out, T, C, bits, axisToken, gs);
}
int kvq_uniform_encode_h(const uint16_t* x, uint8_t* out, int T, int C, int bits, int axisToken, int gs) {
  return uniform_encode<uint16_t>(x, out, T, C, bits, axisToken, gs);
}
int kvq_uniform_decode_h(const uint8_t* in, uint16_t* out, int T, int C, int bits, int axisToken, int gs) {
  return uniform_decode<uint16_t>(in, out, T, C, bits, axisToken, gs);
}
}
