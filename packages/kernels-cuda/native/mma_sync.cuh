// Warp-level helpers shared by the tensor-core decode-attention kernels (decode_attn_{f16_mma,mma,higgs}.cu):
// mma.sync m16n8k16 with fp16 operands and fp32 accumulation, movmatrix, cp.async staging, the SFU's 2^x,
// the online-softmax step and the head-pair layout's B operand.
#pragma once
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>

namespace kvq {

__device__ __forceinline__ uint32_t h2u(__half2 h) { return *reinterpret_cast<uint32_t*>(&h); }
__device__ __forceinline__ __half2 u2h(uint32_t u) { return *reinterpret_cast<__half2*>(&u); }

// c += A·B, A 16×16 row-major (a0..a3), B 16×8 column-major (b0, b1), fp16 operands, fp32 accumulators
__device__ __forceinline__ void mma_full(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                         uint32_t b1) {
  asm(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
// transpose of an 8×8 fp16 matrix held one half2 per lane (lane (g, r): row g, columns 2r, 2r + 1)
__device__ __forceinline__ uint32_t movmatrix_t(uint32_t x) {
  uint32_t y;
  asm volatile("movmatrix.sync.aligned.m8n8.trans.b16 %0, %1;\n" : "=r"(y) : "r"(x));
  return y;
}

__device__ __forceinline__ void cp_async4(void* smem, const void* gmem) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"((uint32_t)__cvta_generic_to_shared(smem)),
               "l"(gmem));
}
__device__ __forceinline__ void cp_async8(void* smem, const void* gmem) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8;\n" ::"r"((uint32_t)__cvta_generic_to_shared(smem)),
               "l"(gmem));
}
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"((uint32_t)__cvta_generic_to_shared(smem)),
               "l"(gmem));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
// wait until at most N committed groups are pending
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }

// 2^x by the SFU alone (ex2.approx.ftz: ≤ 2 ulp, results below 2^-126 flush to 0 — softmax weights become
// fp16 anyway); exp2f adds a range check and a rescale around it for subnormal results
__device__ __forceinline__ float ex2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// One step of the online softmax for one head whose scores are spread over the 8 lanes g of a lane
// group (lane = 4g + r): the running max m takes this lane's 4 new scores (log2 units) and the other
// lanes' (xor 4, 8, 16). Returns the base the new weights are taken against (0 while every score is
// −inf) and sets corr = 2^(m_old − base), the factor for what was accumulated before.
__device__ __forceinline__ float softmax_step(float& m, float s0, float s1, float s2, float s3, float& corr) {
  float mx = fmaxf(m, fmaxf(fmaxf(s0, s1), fmaxf(s2, s3)));
  mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 4));
  mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 8));
  mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 16));
  const float base = mx == -INFINITY ? 0.f : mx;
  corr = ex2(m - base);
  m = mx;
  return base;
}

// The head-pair layout's B operand of P·V (K = 8 tokens × the 2 channels j of a pair, N = 4 heads × 2):
// w is lane (g, r)'s weight for the token of row g of an 8-token step, for the head of its columns
// (both columns 2r, 2r + 1 hold head r). movmatrix gives lane (g, r) head g / 2 at tokens 2r, 2r + 1;
// b[0] (τ = r) and b[1] (τ = r + 4) carry them at j' = g & 1, zero at the other j': selLo / selHi are
// the lane's byte selectors, 0x5410 / 0x5432 for even g and 0x1054 / 0x3254 for odd g.
__device__ __forceinline__ void head_pair_b(float w, uint32_t selLo, uint32_t selHi, uint32_t (&b)[2]) {
  const uint32_t x = movmatrix_t(h2u(__float2half2_rn(w)));
  b[0] = __byte_perm(x, 0u, selLo);
  b[1] = __byte_perm(x, 0u, selHi);
}

}  // namespace kvq
