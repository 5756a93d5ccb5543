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
// Math.round(q) of the CPU reference for q = fl(d / s), clamped to [0, levels]. floor(q + 0.5) in
// fp32 is that for every q ≥ 0.5 (the sum can round up to an integer only below 0.5: q = 0.5 − 2⁻²⁵
// gives 1.0, Math.round 0), and every q < 0.5 (negative, NaN excluded) gives code 0.
__device__ __forceinline__ int code_exact(float d, float s, int levels) {
  const float q = __fdiv_rn(d, s);
  if (q < 0.5f) return 0;
  const int c = (int)floorf(__fadd_rn(q, 0.5f));  // NaN → 0
  return c < 0 ? 0 : (c > levels ? levels : c);
}
__device__ __forceinline__ int code_of(float x, float s, float m, int levels) {
  if (s == 0.f) return 0;
  return code_exact(__fsub_rn(x, m), s, levels);
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
  if (frac < eps || frac > 1.f - eps) return code_exact(d, s, levels);
  const int q = (int)fl;
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

// ---- tiled encode (the fast path): a lane holds 8 consecutive channels × TPT rows in registers ----
// One read of x: every lane issues its TPT 16-byte (fp16) or 32-byte (fp32) streaming loads at once,
// the R lanes that share a group reduce min/max with shuffles, the group's fp16 scale/min (one IEEE
// division, one reciprocal) are computed once per group and shuffled to the others, codes go out as
// whole bytes (8 codes = `bits` bytes per lane and row). Exactness as the CPU reference:
// - min/max with fminf/fmaxf (NaN ignored, like the CPU's `x < lo` scan); the one place where they
//   can differ from the CPU is the sign of a zero extreme (the CPU keeps the first zero it meets), so
//   a warp with a zero minimum or maximum redoes its scan in order with the CPU's comparisons;
// - codes by one FMA per value (codes_fast, below), rows with a value within 2⁻¹² of a rounding
//   boundary (about 1 value in 2000; all values of a group where the FMA form is not valid) redone at
//   the end of the kernel with the exact division (code_of).
constexpr unsigned kFull = 0xffffffffu;
constexpr int kTileThreads = 128;

// A lane's registers: TPT rows × 8 consecutive channels, loaded with streaming 16-byte loads.
// fp16 stays packed (min/max by __hmin2/__hmax2, which ignore NaN like fminf; exact, as fp16 → fp32
// is), converted to fp32 a row at a time for the codes; 8 rows in flight (128 bytes) per lane.
// fp32: 4 rows (128 bytes) per lane.
template <typename In> struct Tile;
template <> struct Tile<uint16_t> {
  static constexpr int TPT = 8;
  uint4 v[TPT];
  __device__ __forceinline__ void load(const uint16_t* p, size_t i, int k) { v[k] = __ldcs((const uint4*)(p + i)); }
  __device__ __forceinline__ void row(int k, float* f) const {
    const __half2* h = (const __half2*)&v[k];
#pragma unroll
    for (int p = 0; p < 4; p++) { const float2 x = __half22float2(h[p]); f[2 * p] = x.x; f[2 * p + 1] = x.y; }
  }
  // per channel j over the TPT rows
  __device__ __forceinline__ void col_minmax(float* lo, float* hi) const {
    const __half2 inf2 = __halves2half2(__ushort_as_half(0x7c00), __ushort_as_half(0x7c00));
#pragma unroll
    for (int p = 0; p < 4; p++) {
      __half2 l = inf2, h = __hneg2(inf2);
#pragma unroll
      for (int k = 0; k < TPT; k++) {
        const __half2 x = ((const __half2*)&v[k])[p];
        l = __hmin2(l, x);
        h = __hmax2(h, x);
      }
      const float2 lf = __half22float2(l), hf = __half22float2(h);
      lo[2 * p] = lf.x; lo[2 * p + 1] = lf.y; hi[2 * p] = hf.x; hi[2 * p + 1] = hf.y;
    }
  }
  // per row k over the 8 channels
  __device__ __forceinline__ void row_minmax(float* lo, float* hi) const {
#pragma unroll
    for (int k = 0; k < TPT; k++) {
      const __half2* x = (const __half2*)&v[k];
      const float2 l = __half22float2(__hmin2(__hmin2(x[0], x[1]), __hmin2(x[2], x[3])));
      const float2 h = __half22float2(__hmax2(__hmax2(x[0], x[1]), __hmax2(x[2], x[3])));
      // an all-NaN pair gives NaN here: fminf with ±inf first, as the fp32 scan would
      lo[k] = fminf(fminf(__int_as_float(0x7f800000), l.x), l.y);
      hi[k] = fmaxf(fmaxf(__int_as_float(0xff800000), h.x), h.y);
    }
  }
};
template <> struct Tile<float> {
  static constexpr int TPT = 4;
  float f[TPT][8];
  __device__ __forceinline__ void load(const float* p, size_t i, int k) {
    const float4 a = __ldcs((const float4*)(p + i)), b = __ldcs((const float4*)(p + i + 4));
    f[k][0] = a.x; f[k][1] = a.y; f[k][2] = a.z; f[k][3] = a.w;
    f[k][4] = b.x; f[k][5] = b.y; f[k][6] = b.z; f[k][7] = b.w;
  }
  __device__ __forceinline__ void row(int k, float* out) const {
#pragma unroll
    for (int j = 0; j < 8; j++) out[j] = f[k][j];
  }
  __device__ __forceinline__ void col_minmax(float* lo, float* hi) const {
#pragma unroll
    for (int j = 0; j < 8; j++) {
      lo[j] = __int_as_float(0x7f800000);
      hi[j] = -lo[j];
#pragma unroll
      for (int k = 0; k < TPT; k++) { lo[j] = fminf(lo[j], f[k][j]); hi[j] = fmaxf(hi[j], f[k][j]); }
    }
  }
  __device__ __forceinline__ void row_minmax(float* lo, float* hi) const {
#pragma unroll
    for (int k = 0; k < TPT; k++) {
      lo[k] = __int_as_float(0x7f800000);
      hi[k] = -lo[k];
#pragma unroll
      for (int j = 0; j < 8; j++) { lo[k] = fminf(lo[k], f[k][j]); hi[k] = fmaxf(hi[k], f[k][j]); }
    }
  }
};
template <typename In> struct TileRows { static constexpr int value = Tile<In>::TPT; };

__device__ __forceinline__ void put_codes(uint8_t* dst, uint64_t word, int bits) {
  if (bits == 2) *(uint16_t*)dst = (uint16_t)word;
  else if (bits == 4) *(uint32_t*)dst = (uint32_t)word;
  else if (bits == 8) *(uint2*)dst = make_uint2((uint32_t)word, (uint32_t)(word >> 32));
  else for (int b = 0; b < bits; b++) dst[b] = (uint8_t)(word >> (8 * b));
}
// the CPU's scan: `if (x < lo) lo = x; if (x > hi) hi = x` (first of equal values kept)
__device__ __forceinline__ void scan_ordered(float x, float& lo, float& hi) {
  lo = x < lo ? x : lo;
  hi = x > hi ? x : hi;
}
// butterfly step of the ordered scan: the lane without bit `off` holds the earlier values
__device__ __forceinline__ void combine_ordered(float& lo, float& hi, int off, int lane) {
  const float olo = __shfl_xor_sync(kFull, lo, off), ohi = __shfl_xor_sync(kFull, hi, off);
  const bool first = (lane & off) == 0;
  const float elo = first ? lo : olo, llo = first ? olo : lo;
  const float ehi = first ? hi : ohi, lhi = first ? ohi : hi;
  lo = llo < elo ? llo : elo;
  hi = lhi > ehi ? lhi : ehi;
}
// fp16 scale and min of one group: hs | hm << 16, and rs = 1/s (0 where s is 0)
__device__ __forceinline__ void group_params(float lo, float hi, int levels, uint32_t* hsm, float* rs) {
  const uint16_t hs = __half_as_ushort(__float2half_rn(__fdiv_rn(__fsub_rn(hi, lo), (float)levels)));
  const uint16_t hm = __half_as_ushort(__float2half_rn(lo));
  const float s = __half2float(__ushort_as_half(hs));
  *hsm = (uint32_t)hs | ((uint32_t)hm << 16);
  *rs = s == 0.f ? 0.f : __frcp_rn(s);
}
__device__ __forceinline__ float hs_of(uint32_t hsm) { return __half2float(__ushort_as_half((uint16_t)hsm)); }
__device__ __forceinline__ float hm_of(uint32_t hsm) { return __half2float(__ushort_as_half((uint16_t)(hsm >> 16))); }
// a[idx] for idx < N without local memory
template <int N> __device__ __forceinline__ float pick(const float* a, int idx) {
  float v = a[0];
#pragma unroll
  for (int i = 1; i < N; i++) v = idx == i ? a[i] : v;
  return v;
}
// The codes of a group by one FMA per value, rounded toward zero into [2^23, 2^24), where a float's low
// bits are the integer floor(y): y = x·A + C with A = 2^14·(1/s) (reciprocal correctly rounded) and
// C = fl(2^14·fl(0.5 − m/s) + 2^23) − 4, so y/2^14 ≈ 2^9 + q + 0.5 − 2^-12 and the code floor(q + 0.5)
// is bits 14.. of y (q = fl(fl(x − m)/s), the CPU's quotient). The real y/2^14 is within
// (3|q| + |c|)·2^-24 + 2^-15 < 1.5·2^-14 of that (|q| ≤ 256 near any boundary that matters, |c| ≤ 256.5),
// so the code is exact unless bits 3..13 of y are all ones (fraction within 4·2^-14 of an integer once
// the −4 shift is undone) — also true of the canonical NaN 0x7fffffff (x NaN, or A = NaN): those rows
// take code_of. Valid only where: fp16 s normal (s ≥ 2^-14; inf gives A = 0 and codes 0 like the CPU),
// |m/s| ≤ 256, (lo − m)/s ≥ −1/4 (fp32 input: m = fp16(lo) may lie above lo) — then
// 0.2 < y/2^14 − 2^9 < levels + 0.8, no clamp needed. Elsewhere A = NaN: the whole group is exact.
constexpr float kFastScale = 16384.f;
__device__ __forceinline__ void group_params_fast(float lo, float hi, int levels, uint32_t* hsm, float* A, float* Cc) {
  const uint16_t hs = __half_as_ushort(__float2half_rn(__fdiv_rn(__fsub_rn(hi, lo), (float)levels)));
  const uint16_t hm = __half_as_ushort(__float2half_rn(lo));
  const float s = __half2float(__ushort_as_half(hs)), m = __half2float(__ushort_as_half(hm));
  *hsm = (uint32_t)hs | ((uint32_t)hm << 16);
  const float rs = s == 0.f ? 0.f : __frcp_rn(s);
  const bool ok = s >= 0x1p-14f && fabsf(__fmul_rn(m, rs)) <= 256.f && __fmul_rn(__fsub_rn(lo, m), rs) >= -0.25f;
  *A = ok ? __fmul_rn(rs, kFastScale) : __int_as_float(0x7fffffff);
  const float c = __fmaf_rn(-m, rs, 0.5f);
  *Cc = __fsub_rn(__fadd_rn(__fmul_rn(c, kFastScale), 8388608.f), 4.f);
}
template <int NS, int R, typename LaneOf>
__device__ __forceinline__ void share_params_fast(const float* lo, const float* hi, int q, int levels, LaneOf laneOf,
                                                  uint32_t* hsm, float* A, float* Cc) {
  constexpr int N = R < NS ? R : NS;
  constexpr int NC = R < NS ? NS / R : 1;
  uint32_t own[NC];
  float ownA[NC], ownC[NC];
#pragma unroll
  for (int c = 0; c < NC; c++)
    group_params_fast(pick<N>(lo + c * N, q % N), pick<N>(hi + c * N, q % N), levels, &own[c], &ownA[c], &ownC[c]);
#pragma unroll
  for (int j = 0; j < NS; j++) {
    const int src = laneOf(j % R);
    hsm[j] = __shfl_sync(kFull, own[j / N], src);
    A[j] = __shfl_sync(kFull, ownA[j / N], src);
    Cc[j] = __shfl_sync(kFull, ownC[j / N], src);
  }
}
template <int BITS> struct CodeWord { using type = uint64_t; };
template <> struct CodeWord<2> { using type = uint32_t; };
template <> struct CodeWord<4> { using type = uint32_t; };
// 8 codes of one row: true where a value needs the exact path
template <int BITS>
__device__ __forceinline__ bool codes_fast(const float* f, const float* A, const float* Cc, int bits, int levels,
                                           typename CodeWord<BITS>::type* word) {
  using W = typename CodeWord<BITS>::type;
  W w = 0;
  bool e = false;
#pragma unroll
  for (int j = 0; j < 8; j++) {
    const uint32_t b = __float_as_uint(__fmaf_rz(f[j], A[j], Cc[j]));
    e |= (~b & 0x3ff8u) == 0;
    w |= (W)((b >> 14) & (uint32_t)levels) << (j * bits);
  }
  *word = w;
  return e;
}
template <int N> __device__ __forceinline__ uint32_t pick_u(const uint32_t* a, int idx) {
  uint32_t v = a[0];
#pragma unroll
  for (int i = 1; i < N; i++) v = idx == i ? a[i] : v;
  return v;
}

// axis 'channel', groups of R·TPT tokens: lane (r, o) = lane r·O + o holds rows t0 + r·TPT + [0, TPT)
// of octet o (8 channels) of its warp; a warp covers O = 32/R octets, a block 4 warps side by side.
// Rows past T repeat row T − 1 (no effect on min/max, nothing stored); octets past C/8 store nothing.
template <typename In, int R, int BITS>
__global__ void __launch_bounds__(kTileThreads, sizeof(In) == 2 ? 7 : 5) k_uniform_enc_channel_tile(const In* __restrict__ x, uint16_t* __restrict__ scales,
                                                                 uint16_t* __restrict__ mins, uint8_t* __restrict__ codes,
                                                                 int T, int C, int bitsArg, int nCB) {
  const int bits = BITS ? BITS : bitsArg;
  constexpr int TPT = TileRows<In>::value, O = 32 / R;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int o = lane % O, r = lane / O;
  const int tg = blockIdx.x / nCB, cb = blockIdx.x % nCB;
  const int octs = C / 8, oct = (cb * (kTileThreads / 32) + warp) * O + o;
  const bool active = oct < octs;
  const int c0 = (active ? oct : octs - 1) * 8;
  const int tr = tg * (R * TPT) + r * TPT;
  const int levels = (1 << bits) - 1;
  Tile<In> tile;
#pragma unroll
  for (int k = 0; k < TPT; k++) tile.load(x, (size_t)min(tr + k, T - 1) * C + c0, k);
  float lo[8], hi[8];
  tile.col_minmax(lo, hi);
#pragma unroll
  for (int j = 0; j < 8; j++) {
#pragma unroll
    for (int off = O; off < 32; off <<= 1) {
      lo[j] = fminf(lo[j], __shfl_xor_sync(kFull, lo[j], off));
      hi[j] = fmaxf(hi[j], __shfl_xor_sync(kFull, hi[j], off));
    }
  }
  bool zero = false;
#pragma unroll
  for (int j = 0; j < 8; j++) zero |= lo[j] == 0.f || hi[j] == 0.f;
  if (__any_sync(kFull, zero)) {  // rare: redo in the CPU's order (tokens ascend with k, then with r)
#pragma unroll
    for (int j = 0; j < 8; j++) { lo[j] = __int_as_float(0x7f800000); hi[j] = -lo[j]; }
#pragma unroll
    for (int k = 0; k < TPT; k++) {
      float f[8];
      tile.row(k, f);
#pragma unroll
      for (int j = 0; j < 8; j++) scan_ordered(f[j], lo[j], hi[j]);
    }
#pragma unroll
    for (int j = 0; j < 8; j++)
#pragma unroll
      for (int off = O; off < 32; off <<= 1) combine_ordered(lo[j], hi[j], off, lane);
  }
  uint32_t hsm[8];
  float A[8], Cc[8];
  share_params_fast<8, R>(lo, hi, r, levels, [&](int q) { return q * O + o; }, hsm, A, Cc);
  const size_t g0 = (size_t)tg * C + c0;
  if (active && r < 2) {  // r = 0 stores the 8 scales, r = 1 the 8 mins (one 16-byte store each)
    uint32_t w[4];
#pragma unroll
    for (int p = 0; p < 4; p++)
      w[p] = r == 0 ? __byte_perm(hsm[2 * p], hsm[2 * p + 1], 0x5410) : __byte_perm(hsm[2 * p], hsm[2 * p + 1], 0x7632);
    *(uint4*)((r == 0 ? scales : mins) + g0) = make_uint4(w[0], w[1], w[2], w[3]);
  }
  if (R == 1 && active) {
    uint32_t w[4];
#pragma unroll
    for (int p = 0; p < 4; p++) w[p] = __byte_perm(hsm[2 * p], hsm[2 * p + 1], 0x7632);
    *(uint4*)(mins + g0) = make_uint4(w[0], w[1], w[2], w[3]);
  }
  uint32_t exc = 0;
#pragma unroll
  for (int k = 0; k < TPT; k++) {
    float f[8];
    tile.row(k, f);
    typename CodeWord<BITS>::type word;
    exc |= (uint32_t)codes_fast<BITS>(f, A, Cc, bits, levels, &word) << k;
    if (active && tr + k < T) put_codes(codes + ((size_t)(tr + k) * octs + oct) * bits, word, bits);
  }
  if (__any_sync(kFull, exc != 0) && active) {  // rare: rows with a value near a rounding boundary
#pragma unroll 1
    for (int k = 0; k < TPT; k++) {
      if (!((exc >> k) & 1) || tr + k >= T) continue;
      float f[8];
      ld8(x, (size_t)(tr + k) * C + c0, f);
      uint64_t word = 0;
#pragma unroll
      for (int j = 0; j < 8; j++) word |= (uint64_t)code_of(f[j], hs_of(hsm[j]), hm_of(hsm[j]), levels) << (j * bits);
      put_codes(codes + ((size_t)(tr + k) * octs + oct) * bits, word, bits);
    }
  }
}

// axis 'token', groups of 8·R channels: the block's octets (8 channels each) in token-major order,
// lane i of a warp holds octets base + 32·k + i (k < TPT): R adjacent lanes make a group, a warp row
// is 512 (fp16) or 1024 (fp32) contiguous bytes. Octets past the end repeat the last one (nothing
// stored); groups never straddle rows or that end (C % (8·R) == 0).
template <typename In, int R, int BITS>
__global__ void __launch_bounds__(kTileThreads, sizeof(In) == 2 ? 7 : 8) k_uniform_enc_token_tile(const In* __restrict__ x, uint16_t* __restrict__ scales,
                                                               uint16_t* __restrict__ mins, uint8_t* __restrict__ codes,
                                                               size_t nOct, int bitsArg) {
  const int bits = BITS ? BITS : bitsArg;
  constexpr int TPT = TileRows<In>::value;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, q = lane % R;
  const size_t base = ((size_t)blockIdx.x * (kTileThreads / 32) + warp) * (32 * TPT) + lane;
  const int levels = (1 << bits) - 1;
  Tile<In> tile;
#pragma unroll
  for (int k = 0; k < TPT; k++) tile.load(x, min(base + 32 * k, nOct - 1) * 8, k);
  float lo[TPT], hi[TPT];
  tile.row_minmax(lo, hi);
#pragma unroll
  for (int k = 0; k < TPT; k++) {
#pragma unroll
    for (int off = 1; off < R; off <<= 1) {
      lo[k] = fminf(lo[k], __shfl_xor_sync(kFull, lo[k], off));
      hi[k] = fmaxf(hi[k], __shfl_xor_sync(kFull, hi[k], off));
    }
  }
  bool zero = false;
#pragma unroll
  for (int k = 0; k < TPT; k++) zero |= lo[k] == 0.f || hi[k] == 0.f;
  if (__any_sync(kFull, zero)) {  // rare: redo in the CPU's order (channels ascend with j, then with q)
#pragma unroll
    for (int k = 0; k < TPT; k++) {
      float f[8];
      tile.row(k, f);
      lo[k] = __int_as_float(0x7f800000);
      hi[k] = -lo[k];
#pragma unroll
      for (int j = 0; j < 8; j++) scan_ordered(f[j], lo[k], hi[k]);
#pragma unroll
      for (int off = 1; off < R; off <<= 1) combine_ordered(lo[k], hi[k], off, lane);
    }
  }
  uint32_t hsm[TPT];
  float A[TPT], Cc[TPT];
  const int lane0 = lane - q;
  share_params_fast<TPT, R>(lo, hi, q, levels, [&](int qq) { return lane0 + qq; }, hsm, A, Cc);
  uint32_t exc = 0;
#pragma unroll
  for (int k = 0; k < TPT; k++) {
    const size_t i = base + 32 * k;
    const bool live = i < nOct;
    if (live && q == k % R) {  // the lane that computed slot k stores its scale and min
      scales[i / R] = (uint16_t)hsm[k];
      mins[i / R] = (uint16_t)(hsm[k] >> 16);
    }
    float f[8], a8[8], c8[8];
    tile.row(k, f);
#pragma unroll
    for (int j = 0; j < 8; j++) { a8[j] = A[k]; c8[j] = Cc[k]; }
    typename CodeWord<BITS>::type word;
    exc |= (uint32_t)codes_fast<BITS>(f, a8, c8, bits, levels, &word) << k;
    if (live) put_codes(codes + i * bits, word, bits);
  }
  if (__any_sync(kFull, exc != 0)) {  // rare: rows with a value near a rounding boundary
#pragma unroll 1
    for (int k = 0; k < TPT; k++) {
      const size_t i = base + 32 * k;
      if (!((exc >> k) & 1) || i >= nOct) continue;
      const uint32_t p = pick_u<TPT>(hsm, k);
      const float s = hs_of(p), m = hm_of(p);
      float f[8];
      ld8(x, i * 8, f);
      uint64_t word = 0;
#pragma unroll
      for (int j = 0; j < 8; j++) word |= (uint64_t)code_of(f[j], s, m, levels) << (j * bits);
      put_codes(codes + i * bits, word, bits);
    }
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

// the tiled kernels for group sizes 32, 64 and 128 (16-byte aligned x and out); false: not handled
// bits 2 and 4 of fp16 input (the KV-cache cases) get kernels with the bit width fixed at compile time
template <typename In, int R>
static void launch_channel_tile(const In* x, uint16_t* scales, uint16_t* mins, uint8_t* codes, int T, int C, int bits) {
  constexpr int O = 32 / R, gs = R * TileRows<In>::value;
  const int nTG = (T + gs - 1) / gs, nCB = (C / 8 + (kTileThreads / 32) * O - 1) / ((kTileThreads / 32) * O);
  const unsigned grid = (unsigned)((size_t)nTG * nCB);
  if constexpr (sizeof(In) == 2) {
    if (bits == 2) { k_uniform_enc_channel_tile<In, R, 2><<<grid, kTileThreads>>>(x, scales, mins, codes, T, C, bits, nCB); return; }
    if (bits == 4) { k_uniform_enc_channel_tile<In, R, 4><<<grid, kTileThreads>>>(x, scales, mins, codes, T, C, bits, nCB); return; }
  }
  k_uniform_enc_channel_tile<In, R, 0><<<grid, kTileThreads>>>(x, scales, mins, codes, T, C, bits, nCB);
}
template <typename In, int R>
static void launch_token_tile(const In* x, uint16_t* scales, uint16_t* mins, uint8_t* codes, size_t nOct, int bits) {
  const size_t perBlock = (size_t)kTileThreads * TileRows<In>::value;
  const unsigned grid = (unsigned)((nOct + perBlock - 1) / perBlock);
  if constexpr (sizeof(In) == 2) {
    if (bits == 2) { k_uniform_enc_token_tile<In, R, 2><<<grid, kTileThreads>>>(x, scales, mins, codes, nOct, bits); return; }
    if (bits == 4) { k_uniform_enc_token_tile<In, R, 4><<<grid, kTileThreads>>>(x, scales, mins, codes, nOct, bits); return; }
  }
  k_uniform_enc_token_tile<In, R, 0><<<grid, kTileThreads>>>(x, scales, mins, codes, nOct, bits);
}
template <typename In>
static bool uniform_encode_tiled(const In* x, uint8_t* out, int T, int C, int bits, int axisToken, int gs, size_t G) {
  if ((uintptr_t)x % 16 != 0 || (uintptr_t)out % 16 != 0) return false;
  uint16_t* scales = (uint16_t*)out;
  uint16_t* mins = scales + G;
  uint8_t* codes = out + G * 4;
  constexpr int TPT = TileRows<In>::value;
  if (axisToken) {
    const size_t nOct = (size_t)T * (C / 8);
    if (gs == 32) launch_token_tile<In, 4>(x, scales, mins, codes, nOct, bits);
    else if (gs == 64) launch_token_tile<In, 8>(x, scales, mins, codes, nOct, bits);
    else if (gs == 128) launch_token_tile<In, 16>(x, scales, mins, codes, nOct, bits);
    else return false;
  } else {
    if (gs == 32) launch_channel_tile<In, 32 / TPT>(x, scales, mins, codes, T, C, bits);
    else if (gs == 64) launch_channel_tile<In, 64 / TPT>(x, scales, mins, codes, T, C, bits);
    else if (gs == 128) launch_channel_tile<In, 128 / TPT>(x, scales, mins, codes, T, C, bits);
    else return false;
  }
  return true;
}

template <typename In>
static int uniform_encode(const In* x, uint8_t* out, int T, int C, int bits, int axisToken, int gs) {
  if (!uniform_args_ok(T, C, bits, axisToken, gs)) return (int)cudaErrorInvalidValue;
  size_t G = n_groups(T, C, axisToken, gs);
  if (T == 0) return 0;
  uint16_t* scales = (uint16_t*)out;
  uint16_t* mins = scales + G;
  if (uniform_encode_tiled(x, out, T, C, bits, axisToken, gs, G)) {
  } else if (axisToken) {
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
