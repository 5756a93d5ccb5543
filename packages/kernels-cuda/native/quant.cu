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

// 8 consecutive values (16 B fp16 or 32 B fp32) per load
__device__ __forceinline__ void ld8(const float* p, size_t i, float* f) {
  float4 a = *(const float4*)(p + i), b = *(const float4*)(p + i + 4);
  f[0] = a.x; f[1] = a.y; f[2] = a.z; f[3] = a.w; f[4] = b.x; f[5] = b.y; f[6] = b.z; f[7] = b.w;
}
__device__ __forceinline__ void ld8(const uint16_t* p, size_t i, float* f) {
  uint4 v = *(const uint4*)(p + i);
  const __half2* h = (const __half2*)&v;
#pragma unroll
  for (int k = 0; k < 4; k++) { float2 x = __half22float2(h[k]); f[2 * k] = x.x; f[2 * k + 1] = x.y; }
}
__device__ __forceinline__ void st8(float* p, size_t i, const float* f) {
  *(float4*)(p + i) = make_float4(f[0], f[1], f[2], f[3]);
  *(float4*)(p + i + 4) = make_float4(f[4], f[5], f[6], f[7]);
}
__device__ __forceinline__ void st8(uint16_t* p, size_t i, const float* f) {
  uint4 v;
  __half2* h = (__half2*)&v;
#pragma unroll
  for (int k = 0; k < 4; k++) h[k] = __floats2half2_rn(f[2 * k], f[2 * k + 1]);
  *(uint4*)(p + i) = v;
}
__device__ __forceinline__ void put_bytes(uint8_t* dst, uint64_t word, int bits) {
  if (bits == 2) *(uint16_t*)dst = (uint16_t)word;
  else if (bits == 4) *(uint32_t*)dst = (uint32_t)word;
  else for (int b = 0; b < bits; b++) dst[b] = (uint8_t)(word >> (8 * b));
}
__device__ __forceinline__ uint64_t get_bytes(const uint8_t* src, int bits) {
  if (bits == 2) return *(const uint16_t*)src;
  if (bits == 4) return *(const uint32_t*)src;
  uint64_t w = 0;
  for (int b = 0; b < bits; b++) w |= (uint64_t)src[b] << (8 * b);
  return w;
}
__device__ __forceinline__ void fp16_scale_min(float lo, float hi, int levels, uint16_t* hs, uint16_t* hm, float* s, float* m) {
  *hs = __half_as_ushort(__float2half_rn(__fdiv_rn(__fsub_rn(hi, lo), (float)levels)));
  *hm = __half_as_ushort(__float2half_rn(lo));
  *s = __half2float(__ushort_as_half(*hs));
  *m = __half2float(__ushort_as_half(*hm));
}
__device__ __forceinline__ int code_of(float x, float s, float m, int levels) {
  if (s == 0.f) return 0;
  int q = (int)floorf(__fadd_rn(__fdiv_rn(__fsub_rn(x, m), s), 0.5f));
  return q < 0 ? 0 : (q > levels ? levels : q);
}
// The same code with a multiply by the correctly rounded reciprocal `rs` = 1/s instead of an IEEE
// division (which costs more than the whole memory budget of the kernel): d·rs is within 2 ulp of
// d/s, so floor(· + 0.5) can only differ when the sum lies within a few ulp of an integer — there
// the exact division decides. The result equals code_of bit for bit.
__device__ __forceinline__ int code_of_fast(float x, float s, float rs, float m, int levels) {
  if (s == 0.f) return 0;
  const float d = __fsub_rn(x, m);
  const float u = __fadd_rn(__fmul_rn(d, rs), 0.5f);
  const float fl = floorf(u);
  const float frac = __fsub_rn(u, fl);
  const float eps = 2.5e-4f * fmaxf(1.f, fabsf(u)) * 0.0625f;
  int q = (frac < eps || frac > 1.f - eps) ? (int)floorf(__fadd_rn(__fdiv_rn(d, s), 0.5f)) : (int)fl;
  return q < 0 ? 0 : (q > levels ? levels : q);
}

// axis 'token', groups of 32 channels: one thread per group, the 32 values kept in registers (one
// read of x), codes by code_of_fast
template <typename In>
__global__ void k_uniform_enc_token32(const In* x, uint16_t* scales, uint16_t* mins, uint8_t* codes, int C, int bits,
                                      size_t nGroups) {
  size_t g = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (g >= nGroups) return;
  const int per = C / 32;
  const size_t base = (g / per) * (size_t)C + (g % per) * (size_t)32;
  const int levels = (1 << bits) - 1;
  float f[32];
#pragma unroll
  for (int o = 0; o < 32; o += 8) ld8(x, base + o, f + o);
  float lo = f[0], hi = f[0];
#pragma unroll
  for (int j = 1; j < 32; j++) { lo = fminf(lo, f[j]); hi = fmaxf(hi, f[j]); }
  float s, m;
  fp16_scale_min(lo, hi, levels, &scales[g], &mins[g], &s, &m);
  const float rs = s == 0.f ? 0.f : __frcp_rn(s);
#pragma unroll
  for (int o = 0; o < 32; o += 8) {
    uint64_t w = 0;
#pragma unroll
    for (int j = 0; j < 8; j++) w |= (uint64_t)code_of_fast(f[o + j], s, rs, m, levels) << (j * bits);
    put_bytes(codes + (base + o) / 8 * bits, w, bits);
  }
}

// axis 'token': one thread per group (gs % 8 == 0): min/max, fp16 scale/min, codes — one read of x
template <typename In>
__global__ void k_uniform_enc_token(const In* x, uint16_t* scales, uint16_t* mins, uint8_t* codes, int C, int bits,
                                    int gs, size_t nGroups) {
  size_t g = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (g >= nGroups) return;
  int per = C / gs;
  size_t base = (g / per) * (size_t)C + (g % per) * (size_t)gs;
  int levels = (1 << bits) - 1;
  float lo = __int_as_float(0x7f800000), hi = -lo, f[8];
  for (int o = 0; o < gs; o += 8) {
    ld8(x, base + o, f);
#pragma unroll
    for (int j = 0; j < 8; j++) { lo = fminf(lo, f[j]); hi = fmaxf(hi, f[j]); }
  }
  float s, m;
  fp16_scale_min(lo, hi, levels, &scales[g], &mins[g], &s, &m);
  const float rs = s == 0.f ? 0.f : __frcp_rn(s);
  for (int o = 0; o < gs; o += 8) {
    ld8(x, base + o, f);
    uint64_t w = 0;
#pragma unroll
    for (int j = 0; j < 8; j++) w |= (uint64_t)code_of_fast(f[j], s, rs, m, levels) << (j * bits);
    put_bytes(codes + (base + o) / 8 * bits, w, bits);
  }
}

// axis 'channel': one thread per (token group, 8 channels): min/max over the group's tokens, codes
template <typename In>
__global__ void k_uniform_enc_channel(const In* x, uint16_t* scales, uint16_t* mins, uint8_t* codes, int T, int C,
                                      int bits, int gs, size_t nOct) {
  size_t id = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (id >= nOct) return;
  int octs = C / 8;
  int tg = (int)(id / octs), c0 = (int)(id % octs) * 8;
  int t0 = tg * gs, t1 = min(T, t0 + gs);
  int levels = (1 << bits) - 1;
  float lo[8], hi[8], f[8], s[8], m[8];
#pragma unroll
  for (int j = 0; j < 8; j++) { lo[j] = __int_as_float(0x7f800000); hi[j] = -lo[j]; }
#pragma unroll 8
  for (int t = t0; t < t1; t++) {
    ld8(x, (size_t)t * C + c0, f);
#pragma unroll
    for (int j = 0; j < 8; j++) { lo[j] = fminf(lo[j], f[j]); hi[j] = fmaxf(hi[j], f[j]); }
  }
  size_t g0 = (size_t)tg * C + c0;
  float rs[8];
#pragma unroll
  for (int j = 0; j < 8; j++) {
    fp16_scale_min(lo[j], hi[j], levels, &scales[g0 + j], &mins[g0 + j], &s[j], &m[j]);
    rs[j] = s[j] == 0.f ? 0.f : __frcp_rn(s[j]);
  }
#pragma unroll 4
  for (int t = t0; t < t1; t++) {
    size_t i = (size_t)t * C + c0;
    ld8(x, i, f);
    uint64_t w = 0;
#pragma unroll
    for (int j = 0; j < 8; j++) w |= (uint64_t)code_of_fast(f[j], s[j], rs[j], m[j], levels) << (j * bits);
    put_bytes(codes + i / 8 * bits, w, bits);
  }
}

// one thread per 8 consecutive values (C % 8 == 0): 8 codes = `bits` whole bytes, LSB-first
template <typename Out>
__global__ void k_uniform_decode(const uint16_t* scales, const uint16_t* mins, const uint8_t* codes, Out* out,
                                 int T, int C, int bits, int axisToken, int gs) {
  size_t oct = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  size_t n = (size_t)T * C;
  if (oct * 8 >= n) return;
  size_t i0 = oct * 8;
  int t = (int)(i0 / C), c = (int)(i0 % C);
  uint32_t mask = (1u << bits) - 1;
  uint64_t word = get_bytes(codes + oct * bits, bits);
  float f[8];
  if (axisToken) {
    size_t g = (size_t)t * (C / gs) + c / gs;
    float s = __half2float(__ushort_as_half(scales[g])), m = __half2float(__ushort_as_half(mins[g]));
#pragma unroll
    for (int j = 0; j < 8; j++) f[j] = __fadd_rn(m, __fmul_rn((float)((word >> (j * bits)) & mask), s));
  } else {
    size_t g = (size_t)(t / gs) * C + c;
    float s[8], m[8];
    ld8(scales, g, s);
    ld8(mins, g, m);
#pragma unroll
    for (int j = 0; j < 8; j++) f[j] = __fadd_rn(m[j], __fmul_rn((float)((word >> (j * bits)) & mask), s[j]));
  }
  st8(out, i0, f);
}

static size_t n_groups(int T, int C, int axisToken, int gs) {
  return axisToken ? (size_t)T * (C / gs) : (size_t)((T + gs - 1) / gs) * C;
}

extern "C" size_t kvq_uniform_bytes(int T, int C, int bits, int axisToken, int gs) {
  return n_groups(T, C, axisToken, gs) * 4 + ((size_t)T * C * bits + 7) / 8;
}

static int uniform_args_ok(int T, int C, int bits, int axisToken, int gs) {
  if (bits < 1 || bits > 8 || C % 8 != 0 || gs <= 0 || T < 0) return 0;
  if (axisToken && (C % gs != 0 || gs % 8 != 0)) return 0;
  return 1;
}

template <typename In>
static int uniform_encode(const In* x, uint8_t* out, int T, int C, int bits, int axisToken, int gs) {
  if (!uniform_args_ok(T, C, bits, axisToken, gs)) return (int)cudaErrorInvalidValue;
  size_t G = n_groups(T, C, axisToken, gs);
  if (T == 0) return 0;
  uint16_t* scales = (uint16_t*)out;
  uint16_t* mins = scales + G;
  if (axisToken) {
    if (gs == 32)
      k_uniform_enc_token32<In><<<kvq_blocks(G, 128), 128>>>(x, scales, mins, out + G * 4, C, bits, G);
    else
      k_uniform_enc_token<In><<<kvq_blocks(G, 128), 128>>>(x, scales, mins, out + G * 4, C, bits, gs, G);
  } else {
    size_t nOct = (size_t)((T + gs - 1) / gs) * (C / 8);
    k_uniform_enc_channel<In><<<kvq_blocks(nOct, 128), 128>>>(x, scales, mins, out + G * 4, T, C, bits, gs, nOct);
  }
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
