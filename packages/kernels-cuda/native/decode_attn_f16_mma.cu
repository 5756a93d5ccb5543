// Decode attention over fp16 pages on tensor cores (mma.m16n8k16, fp32 accumulation), the same layout
// as the HIGGS kernel (decode_attn_higgs.cu): scores S = K·Qᵀ take 16 tokens as M and the (up to 8)
// query heads of one KV head as N, so no MMA row is padding; Oᵀ += Vᵀ·Pᵀ takes 16 channels as M. Keys
// and values are staged per warp in shared memory with cp.async (one 16-token chunk ahead) in rows
// padded to 272 bytes, and read with ldmatrix (.trans for Vᵀ) — no bank conflicts, four fragments per
// instruction. movmatrix transposes the fp16 weights P into the B operand of the P·V MMA.
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>
#include "check.cuh"
#include "kvq_cuda.h"
#include "mma_sync.cuh"
#include "split_combine.cuh"

#define D 128
#define NWARP 4
#define TCH 16             // tokens per warp chunk
#define ROWB (2 * D + 16)  // bytes per staged row (padded: consecutive rows start 4 banks apart)

using namespace kvq;

namespace {

__device__ __forceinline__ void ldsm4(uint32_t (&d)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
               : "r"((uint32_t)__cvta_generic_to_shared(p)));
}
__device__ __forceinline__ void ldsm4t(uint32_t (&d)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
               : "r"((uint32_t)__cvta_generic_to_shared(p)));
}

constexpr int STAGE = 2 * TCH * ROWB;  // keys then values of one chunk
constexpr int SMEM_STAGES = NWARP * 2 * STAGE;
constexpr int SMEM_MERGE = NWARP * 8 * D * 4 + 2 * NWARP * 8 * 4;
constexpr int SMEM = SMEM_STAGES > SMEM_MERGE ? SMEM_STAGES : SMEM_MERGE;

__global__ void __launch_bounds__(128, 2)
    k_decode_f16_mma(const uint16_t* q, const uint8_t* pool, const int* pageTable, const int* lens, float* partial,
                     int G, int Hq, int Hkv, int maxPages, int P, int splitPages, int maxSplits, float scaleLog2) {
  KVQ_PDL_TRIGGER();
  extern __shared__ __align__(16) uint8_t smem[];
  const int split = blockIdx.x, kh = blockIdx.y, b = blockIdx.z;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, r = lane & 3;
  const int len = lens[b];
  const int start = split * splitPages * P, end = min(len, start + splitPages * P);
  const size_t rowG = (size_t)Hkv * D * 2;  // bytes per token in a page block
  const size_t pageBytes = 2 * (size_t)P * rowG;

  // B operand of the score MMA: Qᵀ, k-step kk: channels 16kk + 2r (+1) and 16kk + 2r + 8 (+9) of head g
  uint32_t qb[8][2];
  {
    const uint32_t* qh = (const uint32_t*)(q + ((size_t)b * Hq + kh * G + g) * D);
#pragma unroll
    for (int k = 0; k < 8; k++) {
      qb[k][0] = g < G ? qh[8 * k + r] : 0u;
      qb[k][1] = g < G ? qh[8 * k + r + 4] : 0u;
    }
  }

  float acc[8][4];  // channel tile ct: rows 16ct + g (c0, c1) and 16ct + g + 8 (c2, c3); heads 2r (c0, c2), 2r + 1
#pragma unroll
  for (int n = 0; n < 8; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};

  uint8_t* const wbuf = smem + warp * 2 * STAGE;
  const int stride = NWARP * TCH;
  auto issue = [&](int t, int page_, int st) {
    const uint8_t* pg = pool + (size_t)page_ * pageBytes;
    const int tp0 = t - (t / P) * P;
    uint8_t* sb = wbuf + st * STAGE;
    const uint8_t* kr = pg + (size_t)tp0 * rowG + (size_t)kh * D * 2;
#pragma unroll
    for (int x = lane; x < 2 * TCH * 16; x += 32) {  // 16 B pieces: [K | V][row][col]
      const int kv = x >> 8, row = (x >> 4) & 15, col = x & 15;
      cp_async16(sb + (kv * TCH + row) * ROWB + col * 16, kr + kv * (size_t)P * rowG + row * rowG + col * 16);
    }
  };

  const int first = start + warp * TCH;
  int st = 0, pageNext = 0;
  if (first < end) {
    issue(first, pageTable[(size_t)b * maxPages + first / P], 0);
    if (first + stride < end) pageNext = pageTable[(size_t)b * maxPages + (first + stride) / P];
  }
  cp_async_commit();
  // this lane's ldmatrix row: matrix i = lane / 8, row j = lane % 8
  const int li = lane >> 3, lj = lane & 7;
  for (int t0 = first; t0 < end; t0 += stride) {
    const int tn = t0 + stride;
    if (tn < end) {
      const int pn = pageNext;
      if (tn + stride < end) pageNext = pageTable[(size_t)b * maxPages + (tn + stride) / P];
      issue(tn, pn, st ^ 1);
    }
    cp_async_commit();
    cp_async_wait<1>();
    __syncwarp();
    const uint8_t* sk = wbuf + st * STAGE;
    const uint8_t* sv = sk + TCH * ROWB;

    // scores: tokens g, g + 8 (rows) × heads 2r, 2r + 1
    float c[4] = {0.f, 0.f, 0.f, 0.f};
    {
      // A fragments a0..a3 = matrices (rows 0-7 | 8-15) × (k 0-7 | 8-15): lane row = lj + 8(li & 1), col 8(li >> 1)
      const uint8_t* base = sk + (lj + 8 * (li & 1)) * ROWB + 16 * (li >> 1);
#pragma unroll
      for (int k = 0; k < 8; k++) {
        uint32_t a[4];
        ldsm4(a, base + 32 * k);
        mma_full(c, a[0], a[1], a[2], a[3], qb[k][0], qb[k][1]);
      }
    }
    float s[4];
#pragma unroll
    for (int e = 0; e < 4; e++) s[e] = t0 + g + 8 * (e >> 1) < end ? c[e] * scaleLog2 : -INFINITY;
    float corr[2], base[2];
#pragma unroll
    for (int e = 0; e < 2; e++) {
      float mx = fmaxf(m[e], fmaxf(s[e], s[e + 2]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 4));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 8));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 16));
      base[e] = mx == -INFINITY ? 0.f : mx;
      corr[e] = exp2f(m[e] - base[e]);
      m[e] = mx;
    }
    float p[4];
#pragma unroll
    for (int e = 0; e < 4; e++) p[e] = exp2f(s[e] - base[e & 1]);  // 0 for masked tokens
#pragma unroll
    for (int e = 0; e < 2; e++) l[e] = l[e] * corr[e] + p[e] + p[e + 2];
    const uint32_t pb0 = movmatrix_t(h2u(__floats2half2_rn(p[0], p[1])));
    const uint32_t pb1 = movmatrix_t(h2u(__floats2half2_rn(p[2], p[3])));
#pragma unroll
    for (int n = 0; n < 8; n++) {
      acc[n][0] *= corr[0]; acc[n][1] *= corr[1]; acc[n][2] *= corr[0]; acc[n][3] *= corr[1];
    }
    // a masked token's staged values may be garbage (NaN · 0 = NaN): zero its rows first
    if (t0 + TCH > end) {
      for (int x = lane; x < TCH * 16; x += 32) {
        const int row = x >> 4, col = x & 15;
        if (t0 + row >= end) *(uint4*)(wbuf + st * STAGE + (TCH + row) * ROWB + col * 16) = make_uint4(0, 0, 0, 0);
      }
      __syncwarp();
    }
    {
      // Vᵀ fragments by ldmatrix.trans of V rows: matrix i = (channels 0-7 | 8-15) × (tokens 0-7 | 8-15),
      // lane row (token) = lj + 8(li >> 1), column (channel) 8(li & 1)
      const uint8_t* vbase = sv + (lj + 8 * (li >> 1)) * ROWB + 16 * (li & 1);
#pragma unroll
      for (int ct = 0; ct < 8; ct++) {
        uint32_t a[4];
        ldsm4t(a, vbase + 32 * ct);
        mma_full(acc[ct], a[0], a[1], a[2], a[3], pb0, pb1);
      }
    }
    __syncwarp();
    st ^= 1;
  }
  asm volatile("cp.async.wait_all;\n" ::: "memory");
  __syncthreads();

  float(*sacc)[8][D] = (float(*)[8][D])smem;
  float(*sm)[8] = (float(*)[8])(smem + NWARP * 8 * D * 4);
  float(*sl)[8] = (float(*)[8])(smem + NWARP * 8 * D * 4 + NWARP * 8 * 4);
#pragma unroll
  for (int e = 0; e < 2; e++) {
    l[e] += __shfl_xor_sync(0xffffffffu, l[e], 4);
    l[e] += __shfl_xor_sync(0xffffffffu, l[e], 8);
    l[e] += __shfl_xor_sync(0xffffffffu, l[e], 16);
  }
#pragma unroll
  for (int ct = 0; ct < 8; ct++) {
    sacc[warp][2 * r][16 * ct + g] = acc[ct][0];
    sacc[warp][2 * r + 1][16 * ct + g] = acc[ct][1];
    sacc[warp][2 * r][16 * ct + g + 8] = acc[ct][2];
    sacc[warp][2 * r + 1][16 * ct + g + 8] = acc[ct][3];
  }
  if (g == 0) {
    sm[warp][2 * r] = m[0]; sl[warp][2 * r] = l[0];
    sm[warp][2 * r + 1] = m[1]; sl[warp][2 * r + 1] = l[1];
  }
  __syncthreads();
  const int d = threadIdx.x;
  for (int h = 0; h < G; h++) {
    float M, L, A;
    merge_warps<NWARP>(sm, sl, sacc, h, d, M, L, A);
    float* out = partial + (((size_t)b * Hq + kh * G + h) * maxSplits + split) * (2 + D);
    if (d == 0) { out[0] = M; out[1] = L; }
    out[2 + d] = A;
  }
}

}  // namespace

extern "C" int kvq_decode_attn_f16_mma_ok(int G, int P) { return G >= 1 && G <= 8 && P > 0 && P % TCH == 0; }

// Launches the tensor-core fp16 kernel; the caller (decode_attn.cu) validated the arguments and runs
// the split combine afterwards.
extern "C" int kvq_launch_decode_f16_mma(const uint16_t* q, const uint16_t* pool, const int* pageTable,
                                          const int* lens, float* partial, int B, int Hq, int Hkv, int maxPages,
                                          int P, int splitPages, int maxSplits, float scaleLog2) {
  static DynSmemLimit smem;
  KVQ_CUDA_TRY(smem.ensure(k_decode_f16_mma, SMEM));
  dim3 grid(maxSplits, Hkv, B);
  k_decode_f16_mma<<<grid, 128, SMEM>>>(q, (const uint8_t*)pool, pageTable, lens, partial, Hq / Hkv, Hq, Hkv,
                                        maxPages, P, splitPages, maxSplits, scaleLog2);
  KVQ_LAUNCHED();
  return 0;
}
