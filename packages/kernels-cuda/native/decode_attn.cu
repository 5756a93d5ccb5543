// Decode attention (one query token per sequence) over paged caches, split along the context
// (flash-decoding): fp16 pages, and uniform (KIVI) pages read directly — codes are dequantized in
// registers, no fp16 copy of the cache is ever written. D = 128, GQA group G = Hq / Hkv = 4.
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>
#include "check.cuh"
#include "kvq_cuda.h"
#include "split_combine.cuh"

#define D 128
#define NW 4            // warps per block
#define HW (NW * 2)     // half-warps per block
#define U 4             // tokens per half-warp per iteration
#define CHUNK (HW * U)  // tokens per block iteration (32)

struct Partial { float m, l; };

__device__ __forceinline__ void load_h8(const uint16_t* p, float* f) {
  uint4 v = *(const uint4*)p;
  const __half2* h = (const __half2*)&v;
#pragma unroll
  for (int i = 0; i < 4; i++) {
    float2 x = __half22float2(h[i]);
    f[2 * i] = x.x;
    f[2 * i + 1] = x.y;
  }
}

// Page decoders: given token (page, offset) and this lane's 8 channels, produce k·q partials and v.
struct F16Page {
  const uint16_t* pool; int P, Hkv;
  __device__ const uint16_t* base(int page) const { return pool + (size_t)page * 2 * P * Hkv * D; }
};

template <int G>
__device__ __forceinline__ void merge_and_store(float (&acc)[G][8], float (&m)[G], float (&l)[G], float* partial,
                                                int b, int kh, int split, int Hq, int maxSplits) {
  __shared__ float sacc[HW][G][D];
  __shared__ float sm[HW][G], sl[HW][G];
  int hw = threadIdx.x / 16, li = threadIdx.x & 15;
#pragma unroll
  for (int g = 0; g < G; g++) {
#pragma unroll
    for (int j = 0; j < 8; j++) sacc[hw][g][li * 8 + j] = acc[g][j];
    if (li == 0) { sm[hw][g] = m[g]; sl[hw][g] = l[g]; }
  }
  __syncthreads();
  int d = threadIdx.x;  // blockDim = 128 = D
  for (int g = 0; g < G; g++) {
    float M, L, A;
    merge_warps<HW>(sm, sl, sacc, g, d, M, L, A);
    int h = kh * G + g;
    float* out = partial + (((size_t)b * Hq + h) * maxSplits + split) * (2 + D);
    if (d == 0) { out[0] = M; out[1] = L; }
    out[2 + d] = A;
  }
}

// online softmax update for U scores of one half-warp (log2 domain), values v[U][8]
template <int G>
__device__ __forceinline__ void softmax_update(float (&s)[U][G], const float (&v)[U][8], float (&acc)[G][8],
                                               float (&m)[G], float (&l)[G]) {
#pragma unroll
  for (int g = 0; g < G; g++) {
    float mx = m[g];
#pragma unroll
    for (int u = 0; u < U; u++) mx = fmaxf(mx, s[u][g]);
    if (mx == -INFINITY) continue;
    float corr = exp2f(m[g] - mx);
    float p[U], ps = 0.f;
#pragma unroll
    for (int u = 0; u < U; u++) { p[u] = exp2f(s[u][g] - mx); ps += p[u]; }
    l[g] = l[g] * corr + ps;
    m[g] = mx;
#pragma unroll
    for (int j = 0; j < 8; j++) {
      float a = acc[g][j] * corr;
#pragma unroll
      for (int u = 0; u < U; u++) a = fmaf(p[u], v[u][j], a);
      acc[g][j] = a;
    }
  }
}

template <int G>
__global__ void __launch_bounds__(128) k_decode_f16(const uint16_t* q, const uint16_t* pool, const int* pageTable,
                                                    const int* lens, float* partial, int Hq, int Hkv, int maxPages,
                                                    int P, int splitPages, int maxSplits, float scaleLog2) {
  KVQ_PDL_TRIGGER();
  int split = blockIdx.x, kh = blockIdx.y, b = blockIdx.z;
  int hw = threadIdx.x / 16, li = threadIdx.x & 15;
  int len = lens[b];
  int start = split * splitPages * P, end = min(len, start + splitPages * P);
  float qf[G][8], acc[G][8], m[G], l[G];
#pragma unroll
  for (int g = 0; g < G; g++) {
    load_h8(q + ((size_t)b * Hq + kh * G + g) * D + li * 8, qf[g]);
#pragma unroll
    for (int j = 0; j < 8; j++) { qf[g][j] *= scaleLog2; acc[g][j] = 0.f; }
    m[g] = -INFINITY;
    l[g] = 0.f;
  }
  size_t pageStride = (size_t)2 * P * Hkv * D;
  for (int t0 = start; t0 < end; t0 += CHUNK) {
    float kf[U][8], vf[U][8], s[U][G];
    bool ok[U];
#pragma unroll
    for (int u = 0; u < U; u++) {
      int t = t0 + hw * U + u;
      ok[u] = t < end;
      int tt = ok[u] ? t : start;
      const uint16_t* pg = pool + (size_t)pageTable[(size_t)b * maxPages + tt / P] * pageStride;
      size_t off = ((size_t)(tt % P) * Hkv + kh) * D + li * 8;
      load_h8(pg + off, kf[u]);
      load_h8(pg + (size_t)P * Hkv * D + off, vf[u]);
    }
#pragma unroll
    for (int u = 0; u < U; u++)
#pragma unroll
      for (int g = 0; g < G; g++) {
        float d = 0.f;
#pragma unroll
        for (int j = 0; j < 8; j++) d = fmaf(qf[g][j], kf[u][j], d);
#pragma unroll
        for (int o = 8; o; o >>= 1) d += __shfl_xor_sync(0xffffffffu, d, o);
        s[u][g] = ok[u] ? d : -INFINITY;
      }
    softmax_update<G>(s, vf, acc, m, l);
  }
  merge_and_store<G>(acc, m, l, partial, b, kh, split, Hq, maxSplits);
}

__device__ __forceinline__ float h2f(uint16_t h) { return __half2float(__ushort_as_half(h)); }

template <int BITS>
__device__ __forceinline__ void unpack8(const uint8_t* p, float* f) {
  uint32_t w;
  if (BITS == 2) w = *(const uint16_t*)p;
  else w = *(const uint32_t*)p;  // BITS == 4
#pragma unroll
  for (int j = 0; j < 8; j++) f[j] = (float)((w >> (j * BITS)) & ((1u << BITS) - 1));
}

// uniform pages: key block (axis channel, gsK tokens per group; gsK % 32 == 0 so one key group per
// block iteration) then value block (axis token, gsV channels per group; gsV % 8 == 0).
template <int G, int BK, int BV>
__global__ void __launch_bounds__(128) k_decode_uniform(const uint16_t* q, const uint8_t* pool, const int* pageTable,
                                                        const int* lens, float* partial, int Hq, int Hkv,
                                                        int maxPages, int P, int splitPages, int maxSplits,
                                                        float scaleLog2, int gsK, int gsV, size_t keyBytes,
                                                        size_t pageBytes) {
  KVQ_PDL_TRIGGER();
  int split = blockIdx.x, kh = blockIdx.y, b = blockIdx.z;
  int hw = threadIdx.x / 16, li = threadIdx.x & 15;
  int C = Hkv * D, c0 = kh * D + li * 8;
  int len = lens[b];
  int start = split * splitPages * P, end = min(len, start + splitPages * P);
  int GK = ((P + gsK - 1) / gsK) * C, GV = P * (C / gsV);
  float qf[G][8], acc[G][8], m[G], l[G];
#pragma unroll
  for (int g = 0; g < G; g++) {
    load_h8(q + ((size_t)b * Hq + kh * G + g) * D + li * 8, qf[g]);
#pragma unroll
    for (int j = 0; j < 8; j++) { qf[g][j] *= scaleLog2; acc[g][j] = 0.f; }
    m[g] = -INFINITY;
    l[g] = 0.f;
  }
  for (int t0 = start; t0 < end; t0 += CHUNK) {
    const uint8_t* pg = pool + (size_t)pageTable[(size_t)b * maxPages + t0 / P] * pageBytes;
    int tg = (t0 % P) / gsK;
    // key group constants for this lane's 8 channels: q·scale and q·min
    float ks[8], km[8], qs[G][8], qm[G];
    load_h8((const uint16_t*)pg + (size_t)tg * C + c0, ks);
    load_h8((const uint16_t*)pg + GK + (size_t)tg * C + c0, km);
#pragma unroll
    for (int g = 0; g < G; g++) {
      qm[g] = 0.f;
#pragma unroll
      for (int j = 0; j < 8; j++) { qs[g][j] = qf[g][j] * ks[j]; qm[g] = fmaf(qf[g][j], km[j], qm[g]); }
    }
    const uint8_t* kcodes = pg + (size_t)GK * 4;
    const uint8_t* vblk = pg + keyBytes;
    const uint16_t* vsc = (const uint16_t*)vblk;
    const uint8_t* vcodes = vblk + (size_t)GV * 4;
    float kc[U][8], vf[U][8], s[U][G];
    bool ok[U];
#pragma unroll
    for (int u = 0; u < U; u++) {
      int t = t0 + hw * U + u;
      ok[u] = t < end;
      int tp = (ok[u] ? t : t0) % P;
      unpack8<BK>(kcodes + ((size_t)tp * C + c0) * BK / 8, kc[u]);
      unpack8<BV>(vcodes + ((size_t)tp * C + c0) * BV / 8, vf[u]);
      int gv = tp * (C / gsV) + c0 / gsV;
      float vs = h2f(vsc[gv]), vm = h2f(vsc[GV + gv]);
#pragma unroll
      for (int j = 0; j < 8; j++) vf[u][j] = fmaf(vf[u][j], vs, vm);
    }
#pragma unroll
    for (int u = 0; u < U; u++)
#pragma unroll
      for (int g = 0; g < G; g++) {
        float d = qm[g];
#pragma unroll
        for (int j = 0; j < 8; j++) d = fmaf(qs[g][j], kc[u][j], d);
#pragma unroll
        for (int o = 8; o; o >>= 1) d += __shfl_xor_sync(0xffffffffu, d, o);
        s[u][g] = ok[u] ? d : -INFINITY;
      }
    softmax_update<G>(s, vf, acc, m, l);
  }
  merge_and_store<G>(acc, m, l, partial, b, kh, split, Hq, maxSplits);
}

static int max_splits(int maxPages, int splitPages) { return (maxPages + splitPages - 1) / splitPages; }

extern "C" {
int kvq_decode_attn_f16(const uint16_t* q, const uint16_t* pool, const int* pageTable, const int* lens,
                        uint16_t* out, float* partial, int B, int Hq, int Hkv, int maxPages, int P, int splitPages,
                        float scale, int impl) {
  int G = Hkv > 0 ? Hq / Hkv : 0;
  if (Hkv <= 0 || Hq != G * Hkv || (G != 1 && G != 2 && G != 4 && G != 8) || P % CHUNK || splitPages <= 0 || B <= 0)
    return (int)cudaErrorInvalidValue;
  const bool mma = kvq_decode_attn_f16_mma_ok(G, P);
  if (impl < 0 || impl > 2 || (impl == 2 && !mma)) return (int)cudaErrorInvalidValue;
  int S = max_splits(maxPages, splitPages);
  dim3 grid(S, Hkv, B);
  float sl = scale * 1.4426950408889634f;
  if (mma && impl != 1) {
    int rc = kvq_launch_decode_f16_mma(q, pool, pageTable, lens, partial, B, Hq, Hkv, maxPages, P, splitPages, S, sl);
    if (rc) return rc;
  } else {
    switch (G) {
      case 1: k_decode_f16<1><<<grid, 128>>>(q, pool, pageTable, lens, partial, Hq, Hkv, maxPages, P, splitPages, S, sl); break;
      case 2: k_decode_f16<2><<<grid, 128>>>(q, pool, pageTable, lens, partial, Hq, Hkv, maxPages, P, splitPages, S, sl); break;
      case 4: k_decode_f16<4><<<grid, 128>>>(q, pool, pageTable, lens, partial, Hq, Hkv, maxPages, P, splitPages, S, sl); break;
      default: k_decode_f16<8><<<grid, 128>>>(q, pool, pageTable, lens, partial, Hq, Hkv, maxPages, P, splitPages, S, sl); break;
    }
    KVQ_LAUNCHED();
  }
  return launch_split_combine<D, false>(partial, out, B * Hq, S, nullptr);
}
int kvq_decode_attn_uniform(const uint16_t* q, const uint8_t* pool, const int* pageTable, const int* lens,
                            uint16_t* out, float* partial, int B, int Hq, int Hkv, int maxPages, int P,
                            int splitPages, float scale, int bitsK, int gsK, int bitsV, int gsV, int impl) {
  int G = Hkv > 0 ? Hq / Hkv : 0;
  if (Hkv <= 0 || Hq != G * Hkv || (G != 1 && G != 2 && G != 4 && G != 8) || P % CHUNK || splitPages <= 0 ||
      B <= 0 || gsK <= 0 || gsK % CHUNK || P % gsK || gsV <= 0 || gsV % 8 || (Hkv * D) % gsV)
    return (int)cudaErrorInvalidValue;
  int S = max_splits(maxPages, splitPages);
  dim3 grid(S, Hkv, B);
  size_t kb = kvq_uniform_bytes(P, Hkv * D, bitsK, 0, gsK), vb = kvq_uniform_bytes(P, Hkv * D, bitsV, 1, gsV);
  float sl = scale * 1.4426950408889634f;
  const bool mma = kvq_decode_attn_uniform_mma_ok(G, P, gsK, bitsK, gsV, bitsV) && (kb + vb) % 16 == 0 && kb % 16 == 0;
  if (impl < 0 || impl > 2 || (impl == 2 && !mma)) return (int)cudaErrorInvalidValue;
  if (mma && impl != 1) {
    int rc = kvq_launch_decode_uniform_mma(q, pool, pageTable, lens, partial, B, Hq, Hkv, maxPages, P, splitPages, S,
                                           sl, bitsK, gsK, bitsV, gsV, kb, kb + vb);
    if (rc) return rc;
    return launch_split_combine<D, false>(partial, out, B * Hq, S, nullptr);
  }
#define KVQ_U(BK_, BV_)                                                                                    \
  if (bitsK == BK_ && bitsV == BV_) {                                                                       \
    if (G == 1) k_decode_uniform<1, BK_, BV_><<<grid, 128>>>(q, pool, pageTable, lens, partial, Hq, Hkv, maxPages, P, splitPages, S, sl, gsK, gsV, kb, kb + vb); \
    else if (G == 2) k_decode_uniform<2, BK_, BV_><<<grid, 128>>>(q, pool, pageTable, lens, partial, Hq, Hkv, maxPages, P, splitPages, S, sl, gsK, gsV, kb, kb + vb); \
    else if (G == 4) k_decode_uniform<4, BK_, BV_><<<grid, 128>>>(q, pool, pageTable, lens, partial, Hq, Hkv, maxPages, P, splitPages, S, sl, gsK, gsV, kb, kb + vb); \
    else k_decode_uniform<8, BK_, BV_><<<grid, 128>>>(q, pool, pageTable, lens, partial, Hq, Hkv, maxPages, P, splitPages, S, sl, gsK, gsV, kb, kb + vb); \
  } else
  KVQ_U(2, 2) KVQ_U(4, 2) KVQ_U(4, 4) { return (int)cudaErrorInvalidValue; }
#undef KVQ_U
  KVQ_LAUNCHED();
  return launch_split_combine<D, false>(partial, out, B * Hq, S, nullptr);
}
}
