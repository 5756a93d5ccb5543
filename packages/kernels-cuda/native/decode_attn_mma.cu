// Decode attention over uniform (KIVI) pages on tensor cores: codes are turned into fp16 in registers
// (LOP3 magic-number conversion) and fed to mma.sync.m16n8k16, FlashAttention-2 style, so the
// inner loop costs a few instructions per code instead of the scalar kernel's ~65 per token.
//
// One warp owns 32-token chunks (one key group when gsK = 32). Scores S = K·Qᵀ take 16 tokens as the M
// dimension and the (up to 8) query heads of one KV head as N (no MMA row is padding): the key codes
// are the A operand, the query with the per-channel key scale folded in (once per chunk) the B operand,
// and Σ q·min is added after the MMA. movmatrix transposes the fp16 weights P into the B operand of
// Oᵀ += Vᵀ·Pᵀ, which takes 16 channels as M and 16 tokens as K; values are dequantized with one hfma2
// per pair of tokens, or, with one value scale per token and head (VF), not at all: the scale goes into P
// and the min into a per-head sum. Either operand's codes enter the MMA with a constant bias per bit
// position (codes2_biased: one LOP3 per pair), which per-head sums take back out.
//
// Head-dimension permutation (free, because a dot product does not care about the order): in the
// score MMA, lane (g, r) = (lane / 4, lane % 4) holds key channels [32r, 32r + 32) of tokens g, g + 8,
// g + 16, g + 24, i.e. one contiguous 8- (2-bit) or 16-byte (4-bit) load each; in the value MMA it
// holds channels [16g, 16g + 16) of its four tokens (tile ct: rows g, g + 8 = channels 16g + ct,
// 16g + 8 + ct). The output fragment of lane (g, r) is heads 2r, 2r + 1 of those channels.
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>
#include "check.cuh"
#include "kvq_cuda.h"
#include "mma_sync.cuh"
#include "chunk_pipeline.cuh"
#include "paged.cuh"
#include "split_combine.cuh"

using namespace kvq;

#define D 128
#define NWARP 4
#ifndef KVQ_STAGES
#define KVQ_STAGES 2  // chunk stages per warp in shared memory (cp.async pipeline depth)
#endif
#ifndef KVQ_MMA_STAGE_CAP
#define KVQ_MMA_STAGE_CAP 40960  // the most static shared memory a block's KVQ_STAGES stages may take (≤ 49152)
#endif
#ifndef KVQ_VF_VSLOT
#define KVQ_VF_VSLOT 4  // bytes per token of the VF kernels' staged value scales (and mins): 4, or 16 as before
#endif
#ifndef KVQ_KSC_ALWAYS
#define KVQ_KSC_ALWAYS 0  // 1: the GR kernels copy key scales into every chunk's stage, as before
#endif
#ifndef KVQ_T64
#define KVQ_T64 0  // 1: the 3-blocks-per-SM kivi-2/g128 kernel (batch 1) walks 64-token chunks (see T64 below);
                   // 2: and runs instead of the 4-blocks-per-SM one on large grids too; 3: both kernels
                   // walk 64-token chunks (the 4-blocks-per-SM one then spills 11 query registers, reloaded
                   // once per key group)
#endif
#ifndef KVQ_WIDE_POW2
#define KVQ_WIDE_POW2 0  // 1: the WIDE kernel runs only where page and key-group sizes are powers of two
#endif
#define TCH 32  // tokens per warp chunk (one per lane in the VF kernels' value-scale copies)
#ifndef KVQ_MMA_MIN_BLOCKS
#define KVQ_MMA_MIN_BLOCKS 2  // blocks per SM the register allocation aims for (VF kernels: 3, see below)
#endif
// The same for the VF kernels (3), and for WIDE, a second build of the kivi-2/g128 one (2-bit keys and
// values, head pairs, key groups of several chunks) held to 4 blocks per SM (at most 128 registers; no
// spills on sm_80–90), launched where the grid has more than 3 blocks per SM. 2026-12-07 A/Bs on an H100
// (bench/results/h100-2026-12-07-ab2-*, -ab3-*): 4 blocks per SM took kivi-2/g128 at B=16 from 0.1850 to
// 0.1770 ms at 32k and 0.6727 to 0.6377 ms at 128k, but at B=1 (256 blocks) from 0.0259 to 0.0269 ms at
// 32k and 0.0623 to 0.0659 ms at 128k; for every VF kernel it also slowed k4v2/g128 (0.2114 -> 0.2221 ms
// at B=16 32k), and the other VF kernels would spill at 128 registers.
#ifndef KVQ_MMA_VF_MIN_BLOCKS
#define KVQ_MMA_VF_MIN_BLOCKS 3
#endif
#ifndef KVQ_MMA_WIDE_MIN_BLOCKS
#define KVQ_MMA_WIDE_MIN_BLOCKS 4
#endif

// Two b-bit codes at bit positions s and s + 16 of w, as fp16 bit patterns. s is a constant once the
// loops are unrolled. Codes that lie in the fp16 mantissa (s + B ≤ 10) need no shift: with the biased
// exponent 25 − s a half reads 2^(10−s) + code, exactly, from one LOP3 (mask, then OR the exponent);
// higher codes are shifted down by 8 first (one shift per word, shared by its codes).
template <int B>
__host__ __device__ constexpr int code_pos(int s) {
  return s + B > 10 ? s - 8 : s;
}
// the exponent bits of both halves, which alone read 2^(10−s'): the bias of codes2_biased<B>(·, s)
template <int B>
__host__ __device__ constexpr uint32_t code_magic(int s) {
  return ((uint32_t)(25 - code_pos<B>(s)) << 10) | ((uint32_t)(25 - code_pos<B>(s)) << 26);
}
// (2^(10−s') + code_lo, 2^(10−s') + code_hi) with s' = code_pos<B>(s): the kernels that fold the bias
// 2^(10−s') into per-head sums (code_bias) feed this to the MMA as it is
template <int B>
__device__ __forceinline__ uint32_t codes2_biased(uint32_t w, int s) {
  if (s + B > 10) w >>= 8;
  const int sp = code_pos<B>(s);
  constexpr uint32_t m = (1u << B) - 1;
  uint32_t x;  // one LOP3 (the compiler splits the two immediates)
  asm("lop3.b32 %0, %1, %2, %3, 0xEA;\n" : "=r"(x) : "r"(w), "r"((m << sp) | (m << (sp + 16))), "r"(code_magic<B>(s)));
  return x;
}
// the bias 2^(10 − s') of both halves of codes2_biased<B>(w, s), as a float
template <int B>
__device__ __forceinline__ float code_bias(int s) {
  return (float)(1 << (10 - code_pos<B>(s)));
}
// the two codes as half2 (code_lo, code_hi), exact: the bias subtracted (one more HSUB2)
template <int B>
__device__ __forceinline__ __half2 codes2(uint32_t w, int s) {
  return __hsub2(u2h(codes2_biased<B>(w, s)), u2h(code_magic<B>(s)));
}

// Words of one key row slice (32 channels) for B bits: B 32-bit words.
template <int B>
__device__ __forceinline__ void load_kwords(const uint8_t* p, uint32_t (&w)[B]) {
  if constexpr (B == 2) {
    uint2 v = *(const uint2*)p;
    w[0] = v.x; w[1] = v.y;
  } else {
    uint4 v = *(const uint4*)p;
    w[0] = v.x; w[1] = v.y; w[2] = v.z; w[3] = v.w;
  }
}
// Words of one value row slice (16 channels): B / 2 words.
template <int B>
__device__ __forceinline__ void load_vwords(const uint8_t* p, uint32_t (&w)[B / 2]) {
  if constexpr (B == 2) {
    w[0] = *(const uint32_t*)p;
  } else {
    uint2 v = *(const uint2*)p;
    w[0] = v.x; w[1] = v.y;
  }
}

// Key pair p (0..15) of lane r: channels (lo, hi) within [32r, 32r + 32) — see key_pair_dims.
template <int B>
__device__ __forceinline__ void key_pair_dims(int p, int& lo, int& hi) {
  constexpr int per = 16 / B;  // pairs per word
  int w = p / per, j = p % per;
  lo = w * (32 / B) + j;
  hi = lo + per;
}

// One warp's staging buffer for a chunk of TOK tokens (32; 64 in the T64 kernel) of one KV head (bytes): key
// codes [TOK][KROW], key scales and mins [128] fp16 each, value codes [TOK][VROW], value scales and mins
// [TOK][VSLOT]: VSLOT 16 holds up to 8 value groups per token and head, 4 the aligned pair that holds the one
// scale of the VF kernels.
template <int BK, int BV, int VSLOT_ = 16, int TOK = TCH>
struct Stage {
  static constexpr int KROW = D * BK / 8, VROW = D * BV / 8, VSLOT = VSLOT_;
  static constexpr int KCODE = 0, KSC = KCODE + TOK * KROW, KMN = KSC + 2 * D, VCODE = KMN + 2 * D,
                       VSC = VCODE + TOK * VROW, VMN = VSC + TOK * VSLOT, BYTES = VMN + TOK * VSLOT;
};

// HP ("head pairs", G ≤ 4): the score MMA's 8 columns hold each query head twice (column n = head n / 2)
// and P·V runs as Oᵀ[channel pairs × (head, j)] += V[pairs × (token, j)]·B with K = 8 tokens × the 2
// channels j of a pair (c, c + 8), N = 4 heads × 2, B[(τ, j)][(h, j')] = p_τh·[j = j']: each A register
// is one token's pair, dequantized with that token's scale and min as they are (no interleaving of
// tokens), no MMA column is padding for G = 4, the online softmax runs once per (token, head) and the
// accumulator is half as large. HP = false: the layout described above (G ≤ 8).
// VF kernels ask for 3 blocks per SM: with 2 they take up to 187 registers and fit only 2 (the others fit 3
// at ≤ 166); at 3 they take ≤ 168 with no spills.
// GR (key groups of more than one chunk): see `next` in the kernel; measured on the H100 (2026-12-07,
// bench/results/h100-2026-12-07-ab-*), it took kivi-2/g128 at 16 × 32k from 0.196 to 0.187 ms, and slowed
// groups of one chunk (kivi-2, g32) by 9% though it walks them in the same order, so it is used only where
// a group spans several chunks.
// T64 (KVQ_T64, the kivi-2/g128 kernels only): each warp walks 64-token chunks
// (NT = 2 tiles of 32 tokens) instead of 32, so that twice the bytes are in flight per warp (one chunk ahead)
// and the per-chunk work (page index and copy addresses, softmax maxima and shuffles, σ, the accumulator's
// rescale) is paid once per 64 tokens; key groups and pages must be multiples of 64 tokens (the launcher checks).
template <int BK, int BV, bool HP, bool VF, bool GR, bool WIDE = false, bool T64 = false>
__global__ void __launch_bounds__(128, WIDE ? KVQ_MMA_WIDE_MIN_BLOCKS : VF ? KVQ_MMA_VF_MIN_BLOCKS : KVQ_MMA_MIN_BLOCKS) k_decode_uniform_mma(const uint16_t* q, const uint8_t* pool, const int* pageTable,
                                                            const int* lens, float* partial, int G, int Hq, int Hkv,
                                                            int maxPages, int P, int splitPages, int maxSplits,
                                                            float scaleLog2, int gsK, int gsV, size_t keyBytes,
                                                            size_t pageBytes, PowDiv pd, PowDiv gd) {
  KVQ_PDL_TRIGGER();
  static_assert(!T64 || (HP && VF && GR && BK == 2 && BV == 2), "T64: the kivi-2/g128 kernels only");
  constexpr int CT = T64 ? 64 : TCH, NT = CT / 32;  // tokens per chunk, 32-token tiles per chunk
  if constexpr (WIDE && KVQ_WIDE_POW2) {  // launched only so: the page and group arithmetic are shifts
    __builtin_assume(pd.shift >= 0);
    __builtin_assume(gd.shift >= 0);
  }
  // blockIdx.x = split · Hkv + kh: the blocks of one split of all KV heads run side by side, so the heads'
  // interleaved rows of each page ([token][head][codes]) are read by concurrent blocks
  const int split = blockIdx.x / Hkv, kh = blockIdx.x - split * Hkv, b = blockIdx.z;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, r = lane & 3;
  const int C = Hkv * D;
  const int len = lens[b];
  const int start = split * splitPages * P, end = min(len, start + splitPages * P);
  const int GK = ((P + gsK - 1) / gsK) * C, GV = P * (C / gsV);
  const int hq = HP ? g >> 1 : g;  // the query head of MMA column g
  const bool head = hq < G;

  // query pairs for head g (zero rows for g >= G), in the key-pair channel order
  __half2 qh[16];
#pragma unroll
  for (int p = 0; p < 16; p++) {
    int lo, hi;
    key_pair_dims<BK>(p, lo, hi);
    if (head) {
      const __half* qp = (const __half*)q + ((size_t)b * Hq + kh * G + hq) * D + 32 * r;
      qh[p] = __halves2half2(qp[lo], qp[hi]);
    } else {
      qh[p] = __float2half2_rn(0.f);
    }
  }

  // HP: [pair tile pt][c0..c3] = channels 16g + 2pt, + 8, + 1, + 9 of head r.
  // Otherwise: channel tile ct: channels 16g + ct (c0, c1) and 16g + 8 + ct (c2, c3); heads 2r (c0, c2), 2r + 1.
  constexpr int NACC = HP ? 4 : 8;
  float acc[NACC][4];
#pragma unroll
  for (int n = 0; n < NACC; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};  // heads 2r, 2r + 1 (HP: head r in [0]; l: this lane's share)
  // HP: B of P·V for lane (g, r) is (p, 0) for j' = g & 1 = 0, (0, p) for 1: byte selectors of the low/high half
  const uint32_t selLo = (g & 1) ? 0x1054u : 0x5410u, selHi = (g & 1) ? 0x3254u : 0x5432u;

  // Per-warp staging in shared memory (STAGES chunks), filled with cp.async STAGES − 1 chunks ahead, so
  // the loads of the next chunks are in flight while chunk i is computed. nS = value scales per token and head.
  using S_ = Stage<BK, BV, VF ? KVQ_VF_VSLOT : 16, CT>;
  // KVQ_STAGES, or 2 where that many stages would not fit in KVQ_MMA_STAGE_CAP bytes of static shared memory
  // (40 KB: with the default 2 stages every kernel fits; KVQ_STAGES=3 with 40 KB gave the VF kernels, whose
  // stages were 3584 bytes before 2026-12-08, only 2 — the "st3" build of 2026-12-07 ran them unchanged)
  constexpr int STAGES = NWARP * KVQ_STAGES * S_::BYTES <= KVQ_MMA_STAGE_CAP ? KVQ_STAGES : 2;
  constexpr int SB = STAGES * S_::BYTES;
  constexpr int MERGE = NWARP * 8 * D * 4 + 2 * NWARP * 8 * 4;
  __shared__ __align__(16) uint8_t smem[(NWARP * SB > MERGE ? NWARP * SB : MERGE)];
  uint8_t* const wbuf = smem + warp * SB;
  // loop-invariant integer quotients (integer division is dozens of instructions: none in the loop
  // but one page and one key-group index per chunk)
  const int nS = gsV >= D ? 1 : D / gsV;  // value groups per token within this head
  const int wsh = nS <= 2 ? 0 : nS == 4 ? 1 : 2;  // log2 of 4-byte copies per token slot (nS 1, 2 → 1)
  const int cg = C / gsV, kvg = (kh * D) / gsV;
  const int vh0 = nS == 1 ? 0 : (16 * g) / gsV;

  // VF (one value scale per token and head: gsV a multiple of D): each token's value scale and min move
  // out of the A operand, which becomes codes2_biased alone (one LOP3 per pair): B = fp16(p·scale/σ) and
  // out = σ·(acc − bias·vpe) + vpm with vpe = Σ B, vpm = Σ p·min per head. σ, the unit of acc and vpe, is
  // the largest value scale of the latest chunk, so B stays in fp16's normal range whatever the values'
  // magnitude.
  float sig = 1.f, vpe[2] = {0.f, 0.f}, vpm[2] = {0.f, 0.f};
  // value scales / mins of the lane's score-layout tokens 16mt + g + 8hi (index 2mt + hi), 0 for masked
  // tokens (whose scale may be garbage); σ moves to this chunk's largest scale (kept when all are 0):
  // inv = 1/σ, ratio = σ_old/σ
  auto chunk_value_scales = [&](const uint8_t* sb, int t0, int tp0, float(&vs)[4 * NT], float(&vm)[4 * NT],
                                float& inv, float& ratio) {
    const int vh = (tp0 * cg + kvg) & 1;  // the scale's half within its copied pair, per token parity
    float mx = 0.f;
#pragma unroll
    for (int i = 0; i < 4 * NT; i++) {
      const int tl = 16 * (i >> 1) + g + 8 * (i & 1), hh = (vh + tl * cg) & 1;
      const bool in = t0 + tl < end;
      vs[i] = in ? __half2float(((const __half*)(sb + S_::VSC + tl * S_::VSLOT))[hh]) : 0.f;
      vm[i] = in ? __half2float(((const __half*)(sb + S_::VMN + tl * S_::VSLOT))[hh]) : 0.f;
      mx = fmaxf(mx, vs[i]);
    }
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 4));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 8));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 16));
    const float sn = mx > 0.f ? mx : sig;
    inv = __fdividef(1.f, sn);  // MUFU.RCP (≤ 2 ulp): σ·inv ≈ 1 per chunk is all the units need
    ratio = sig * inv;
    sig = sn;
  };
  // w = p·scale/σ rounded to fp16 as the B operand gets it; pe += w, pm += p·min
  auto fold_value_scale = [](float p, float sx, float mn, float inv, float& w, float& pe, float& pm) {
    w = __half2float(__float2half_rn(p * (sx * inv)));
    pe += w;
    pm = fmaf(p, mn, pm);
  };

  // the code rows of a chunk (C·bits/8 bytes apart in a page), copied with per-lane offsets computed once
  // (kernels with 4-bit keys: per piece, as before RowCopies — they ran 2–3% slower with it at B=16 128k in
  // the 2026-12-07 A/Bs, k4v2 and k4v2/g128, while those with 2-bit keys ran 2–5% faster)
  constexpr bool ROWCOPIES = BK == 2;
  RowCopies<CT, S_::KROW> kcopy;
  RowCopies<CT, S_::VROW> vcopy;
  kcopy.init(lane, C * BK / 8);
  vcopy.init(lane, C * BV / 8);
  // issue the copies of the chunk at t into stage st (page index pg_)
  auto issue = [&](int t, int page_, int st) {
    const uint8_t* pg = pool + (size_t)page_ * pageBytes;
    const int tp0 = pd.mod(t), tg = gd.div(tp0);
    uint8_t* sb = wbuf + st * S_::BYTES;
    if constexpr (ROWCOPIES) {
      kcopy.issue(sb + S_::KCODE, pg + ((size_t)GK * 4 + (uint32_t)(tp0 * C + kh * D) * BK / 8));
    } else {
      const uint8_t* kcodes = pg + (size_t)GK * 4 + ((size_t)tp0 * C + kh * D) * BK / 8;
#pragma unroll
      for (int x = lane; x < CT * S_::KROW / 16; x += 32) {
        const int row = x / (S_::KROW / 16), col = x % (S_::KROW / 16);
        cp_async16(sb + S_::KCODE + row * S_::KROW + col * 16, kcodes + (size_t)row * C * BK / 8 + col * 16);
      }
    }
    // the key group's scales and mins; GR: only into a group's first chunk, the one whose stage the fold
    // below reads them from
    if (KVQ_KSC_ALWAYS || !GR || gd.mod(tp0) == 0) {
      const __half* src = (const __half*)pg + (lane < 16 ? 0 : GK) + (size_t)tg * C + kh * D + 8 * (lane & 15);
      cp_async16(sb + (lane < 16 ? S_::KSC : S_::KMN) + 16 * (lane & 15), src);
    }
    const uint8_t* vblk = pg + keyBytes;
    if constexpr (ROWCOPIES) {
      vcopy.issue(sb + S_::VCODE, vblk + ((size_t)GV * 4 + (uint32_t)(tp0 * C + kh * D) * BV / 8));
    } else {
      const uint8_t* vcodes = vblk + (size_t)GV * 4 + ((size_t)tp0 * C + kh * D) * BV / 8;
#pragma unroll
      for (int x = lane; x < CT * S_::VROW / 16; x += 32) {
        const int row = x / (S_::VROW / 16), col = x % (S_::VROW / 16);
        cp_async16(sb + S_::VCODE + row * S_::VROW + col * 16, vcodes + (size_t)row * C * BV / 8 + col * 16);
      }
    }
    const __half* vsc = (const __half*)vblk;
    if constexpr (VF) {
      static_assert(TCH == 32, "one token per lane and tile");
      // one value scale per token and head: lane = token (of each 32-token tile), the 4-byte aligned pair
      // holding its scale and the one holding its min (the loop below with nS = 1, unrolled)
#pragma unroll
      for (int i = 0; i < NT; i++) {
        const int tok = lane + 32 * i, idx = ((tp0 + tok) * cg + kvg) & ~1;
        cp_async4(sb + S_::VSC + tok * S_::VSLOT, vsc + idx);
        cp_async4(sb + S_::VMN + tok * S_::VSLOT, vsc + GV + idx);
      }
    } else {
      for (int x = lane; x < (2 * CT) << wsh; x += 32) {
        const int which = x >> (5 + wsh), rest = x & ((CT << wsh) - 1), tok = rest >> wsh,
                  w = rest & ((1 << wsh) - 1);
        int idx = (tp0 + tok) * cg + kvg;
        if (nS == 1) idx &= ~1;  // 4-byte aligned pair holding the one scale
        cp_async4(sb + (which ? S_::VMN : S_::VSC) + tok * S_::VSLOT + 4 * w, vsc + (which ? GV : 0) + idx + 2 * w);
      }
    }
  };

  // GR: each warp walks whole key groups (the chunks of a group in a row; groups w, w + NWARP, … of the
  // split), so the key group's fold into the query below is computed once per group, not once per chunk
  auto next = [&](int t) {
    if constexpr (GR) {
      t += CT;
      return gd.mod(t) == 0 ? t + (NWARP - 1) * gsK : t;
    } else {
      return t + NWARP * CT;
    }
  };
  const int first = start + warp * (GR ? gsK : CT);
  int st = 0;
  const int* const pageRow = pageTable + (size_t)b * maxPages;
  ChunkPipeline<STAGES> pipe;  // STAGES − 1 chunks in flight ahead of chunk t0
  pipe.start(first, end, pageRow, pd, issue, next);
  // key group constants, kept while the warp stays in one group: the scale folded into q (B operand, head
  // g), Σ q·min of the score columns 2r and 2r + 1, and (VF) the codes' bias Σ q·scale·2^(10−s')
  uint32_t qs[16];
  float qm0 = 0.f, qm1 = 0.f, ce[4] = {0.f, 0.f, 0.f, 0.f};
  for (int t0 = first; t0 < end; t0 = next(t0)) {
    pipe.step(end, pageRow, pd, issue, next);
    cp_async_wait<STAGES - 1>();
    __syncwarp();
    const uint8_t* sb = wbuf + st * S_::BYTES;
    const int tp0 = pd.mod(t0);

    if (!GR || gd.mod(t0) == 0) {
      uint4 ks4[4], km4[4];  // key scales / mins of this lane's 32 channels
#pragma unroll
      for (int x = 0; x < 4; x++) {
        ks4[x] = ((const uint4*)(sb + S_::KSC + 64 * r))[x];
        km4[x] = ((const uint4*)(sb + S_::KMN + 64 * r))[x];
      }
      const __half* ksh = (const __half*)ks4;
      const __half* kmh = (const __half*)km4;
      float qm = 0.f;
#pragma unroll
      for (int p = 0; p < 16; p++) {
        int lo, hi;
        key_pair_dims<BK>(p, lo, hi);
        __half2 s2 = __halves2half2(ksh[lo], ksh[hi]);
        __half2 m2 = __halves2half2(kmh[lo], kmh[hi]);
        qs[p] = h2u(__hmul2(qh[p], s2));
        float2 qf = __half22float2(qh[p]), mf = __half22float2(m2);
        qm = fmaf(qf.x, mf.x, fmaf(qf.y, mf.y, qm));
      }
      qm += __shfl_xor_sync(0xffffffffu, qm, 1);
      qm += __shfl_xor_sync(0xffffffffu, qm, 2);
      // lanes (g, ·) hold Σ q·min of column g's head; the score fragment needs columns 2r and 2r + 1
      // (HP: both head r)
      qm0 = __shfl_sync(0xffffffffu, qm, 8 * r);
      qm1 = HP ? qm0 : __shfl_sync(0xffffffffu, qm, 8 * r + 4);
      if constexpr (VF) {
        ce[0] = ce[1] = ce[2] = ce[3] = 0.f;
#pragma unroll
        for (int k = 0; k < 8; k++) {
          constexpr int per = 16 / BK;
          const uint32_t z0 = code_magic<BK>(((2 * k) % per) * BK), z1 = code_magic<BK>(((2 * k + 1) % per) * BK);
          mma_full(ce, z0, z0, z1, z1, qs[2 * k], qs[2 * k + 1]);
        }
      }
    }
    // scores S = K·Qᵀ: 2·NT tiles of 16 tokens (rows) × 8 heads; lane holds tokens 16mt + g (+8), heads 2r, 2r + 1
    // VF: the A operand is codes2_biased (one LOP3 per pair, no subtract), and the scores start from minus
    // the codes' bias Σ q·scale·2^(10−s'), which one more MMA per k-step computes from the bias alone (every
    // row the same, columns as the scores'). (Without VF the same saves nothing in the SASS: codes2.)
    float c[2 * NT][4];
    if constexpr (!VF) {
#pragma unroll
      for (int mt = 0; mt < 2 * NT; mt++) c[mt][0] = c[mt][1] = c[mt][2] = c[mt][3] = 0.f;
    } else {
#pragma unroll
      for (int mt = 0; mt < 2 * NT; mt++) {
        c[mt][0] = -ce[0]; c[mt][1] = -ce[1]; c[mt][2] = -ce[2]; c[mt][3] = -ce[3];
      }
    }
    {
      uint32_t kw[4 * NT][BK];  // tokens g + 8i, channels [32r, 32r + 32)
#pragma unroll
      for (int i = 0; i < 4 * NT; i++)
        load_kwords<BK>(sb + S_::KCODE + (g + 8 * i) * S_::KROW + 32 * r * BK / 8, kw[i]);
#pragma unroll
      for (int k = 0; k < 8; k++) {
        constexpr int per = 16 / BK;
        const int p0 = 2 * k, p1 = 2 * k + 1;
#pragma unroll
        for (int mt = 0; mt < 2 * NT; mt++) {
          const int s0 = (p0 % per) * BK, s1 = (p1 % per) * BK;
          uint32_t a0, a1, a2, a3;
          if constexpr (VF) {
            a0 = codes2_biased<BK>(kw[2 * mt][p0 / per], s0);
            a1 = codes2_biased<BK>(kw[2 * mt + 1][p0 / per], s0);
            a2 = codes2_biased<BK>(kw[2 * mt][p1 / per], s1);
            a3 = codes2_biased<BK>(kw[2 * mt + 1][p1 / per], s1);
          } else {
            a0 = h2u(codes2<BK>(kw[2 * mt][p0 / per], s0));
            a1 = h2u(codes2<BK>(kw[2 * mt + 1][p0 / per], s0));
            a2 = h2u(codes2<BK>(kw[2 * mt][p1 / per], s1));
            a3 = h2u(codes2<BK>(kw[2 * mt + 1][p1 / per], s1));
          }
          mma_full(c[mt], a0, a1, a2, a3, qs[p0], qs[p1]);
        }
      }
    }
    // scores in log2 units, −inf for masked tokens: s[mt][e] is token 16mt + g (+ 8 for e ≥ 2), column
    // 2r + (e & 1)
    float s[2 * NT][4];
#pragma unroll
    for (int mt = 0; mt < 2 * NT; mt++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int t = t0 + 16 * mt + g + 8 * (e >> 1);
        s[mt][e] = t < end ? (c[mt][e] + ((e & 1) ? qm1 : qm0)) * scaleLog2 : -INFINITY;
      }
    if constexpr (HP) {
      // columns 2r and 2r + 1 both hold head r: s[mt][0] (= s[mt][1]) is token 16mt + g, s[mt][2] token + 8
      float corr, sx[4] = {s[0][0], s[0][2], s[1][0], s[1][2]};  // T64: the larger of each two tiles' scores
#pragma unroll
      for (int mt = 2; mt < 2 * NT; mt++) {
        sx[2 * (mt & 1)] = fmaxf(sx[2 * (mt & 1)], s[mt][0]);
        sx[2 * (mt & 1) + 1] = fmaxf(sx[2 * (mt & 1) + 1], s[mt][2]);
      }
      const float base = softmax_step(m[0], sx[0], sx[1], sx[2], sx[3], corr);
      float vs[4 * NT], vm[4 * NT], inv = 1.f, ratio = 1.f;  // VF: value scales / mins of tokens 16mt + g + 8hi
      if constexpr (VF) chunk_value_scales(sb, t0, tp0, vs, vm, inv, ratio);
      // P of the 8 tokens T = 8·ks of step ks = 2mt + hi, transposed: lane (g, r) gets head g / 2 at
      // tokens T + 2r (τ = r) and T + 2r + 1 (τ = r + 4), placed at j' = g & 1
      uint32_t pb[4 * NT][2];
      float ps = 0.f, pe = 0.f, pm = 0.f;
#pragma unroll
      for (int mt = 0; mt < 2 * NT; mt++)
#pragma unroll
        for (int hi = 0; hi < 2; hi++) {
          const float p = ex2(s[mt][2 * hi] - base);  // 0 for masked tokens
          ps += p;
          float w = p;
          if constexpr (VF) fold_value_scale(p, vs[2 * mt + hi], vm[2 * mt + hi], inv, w, pe, pm);
          head_pair_b(w, selLo, selHi, pb[2 * mt + hi]);
        }
      l[0] = l[0] * corr + ps;
      const float ca = corr * ratio;
      if constexpr (VF) {
        vpe[0] = vpe[0] * ca + pe;
        vpm[0] = vpm[0] * corr + pm;
      }
#pragma unroll
      for (int n = 0; n < NACC; n++) {
        acc[n][0] *= ca; acc[n][1] *= ca; acc[n][2] *= ca; acc[n][3] *= ca;
      }
      // Oᵀ += V·B per step of 8 tokens: A row g = channel pair (16g + 2pt, + 8), row g + 8 = (16g + 2pt + 1,
      // + 9), K (τ, j): τ = r → token T + 2r, τ = r + 4 → T + 2r + 1; each register one token's pair
      const int vh = nS == 1 ? ((tp0 * cg + kvg) & 1) : vh0;
      constexpr int per = 16 / BV;  // codes per 16-bit half
#pragma unroll
      for (int ks = 0; ks < 4 * NT; ks++) {
        uint32_t x[2][BV / 2];  // tokens T + 2r + u: halves (channels c, c + 8 of each pair) per word
        __half2 s2[2], m2[2];   // !VF: the tokens' value scales and mins
#pragma unroll
        for (int u = 0; u < 2; u++) {
          const int tl = 8 * ks + 2 * r + u;
          uint32_t vw[BV / 2];
          load_vwords<BV>(sb + S_::VCODE + tl * S_::VROW + 16 * g * BV / 8, vw);
          if constexpr (BV == 2) {
            x[u][0] = vw[0];  // channels 16g + i at bits 2i: (i, i + 8) at (2i, 2i + 16)
          } else {
            x[u][0] = __byte_perm(vw[0], vw[1], 0x5410);  // channels 0..3 | 8..11
            x[u][1] = __byte_perm(vw[0], vw[1], 0x7632);  // channels 4..7 | 12..15
          }
          if constexpr (!VF) {
            const int hh = nS == 1 ? ((vh + tl * cg) & 1) : vh;
            const bool in = t0 + tl < end;  // a masked token's scale and min may be garbage: 0, so 0 · code = 0
            const __half sx = ((const __half*)(sb + S_::VSC + tl * S_::VSLOT))[hh];
            const __half mn = ((const __half*)(sb + S_::VMN + tl * S_::VSLOT))[hh];
            s2[u] = __half2half2(in ? sx : __float2half(0.f));
            m2[u] = __half2half2(in ? mn : __float2half(0.f));
          }
        }
#pragma unroll
        for (int pt = 0; pt < 4; pt++) {
          const int i0 = 2 * pt, i1 = 2 * pt + 1;  // pairs of rows g and g + 8
          uint32_t a0, a1, a2, a3;
          if constexpr (VF) {  // scale and min are in P and the per-head sums
            a0 = codes2_biased<BV>(x[0][i0 / per], (i0 % per) * BV);
            a1 = codes2_biased<BV>(x[0][i1 / per], (i1 % per) * BV);
            a2 = codes2_biased<BV>(x[1][i0 / per], (i0 % per) * BV);
            a3 = codes2_biased<BV>(x[1][i1 / per], (i1 % per) * BV);
          } else {
            a0 = h2u(__hfma2(codes2<BV>(x[0][i0 / per], (i0 % per) * BV), s2[0], m2[0]));
            a1 = h2u(__hfma2(codes2<BV>(x[0][i1 / per], (i1 % per) * BV), s2[0], m2[0]));
            a2 = h2u(__hfma2(codes2<BV>(x[1][i0 / per], (i0 % per) * BV), s2[1], m2[1]));
            a3 = h2u(__hfma2(codes2<BV>(x[1][i1 / per], (i1 % per) * BV), s2[1], m2[1]));
          }
          mma_full(acc[pt], a0, a1, a2, a3, pb[ks][0], pb[ks][1]);
        }
      }
    } else {
      float corr[2], base[2];
#pragma unroll
      for (int e = 0; e < 2; e++) base[e] = softmax_step(m[e], s[0][e], s[0][e + 2], s[1][e], s[1][e + 2], corr[e]);
      float vs[4], vm[4], inv = 1.f, ratio = 1.f;  // VF: value scales / mins of tokens 16mt + g + 8hi
      if constexpr (VF) chunk_value_scales(sb, t0, tp0, vs, vm, inv, ratio);
      // P, transposed into the B operand of P·V (per lane: head g, tokens 2r, 2r + 1 (+8) of each 16)
      uint32_t pb[2][2];
      float ps[2] = {0.f, 0.f}, pe[2] = {0.f, 0.f}, pm[2] = {0.f, 0.f};
#pragma unroll
      for (int mt = 0; mt < 2; mt++) {
        float pr[4];
#pragma unroll
        for (int e = 0; e < 4; e++) {
          const float p = ex2(s[mt][e] - base[e & 1]);  // 0 for masked tokens
          ps[e & 1] += p;
          pr[e] = p;
          if constexpr (VF) fold_value_scale(p, vs[2 * mt + (e >> 1)], vm[2 * mt + (e >> 1)], inv, pr[e], pe[e & 1], pm[e & 1]);
        }
        pb[mt][0] = movmatrix_t(h2u(__floats2half2_rn(pr[0], pr[1])));
        pb[mt][1] = movmatrix_t(h2u(__floats2half2_rn(pr[2], pr[3])));
      }
      float ca[2];
#pragma unroll
      for (int e = 0; e < 2; e++) {
        l[e] = l[e] * corr[e] + ps[e];
        ca[e] = corr[e] * ratio;
        if constexpr (VF) {
          vpe[e] = vpe[e] * ca[e] + pe[e];
          vpm[e] = vpm[e] * corr[e] + pm[e];
        }
      }
#pragma unroll
      for (int n = 0; n < 8; n++) {
        acc[n][0] *= ca[0]; acc[n][1] *= ca[1]; acc[n][2] *= ca[0]; acc[n][3] *= ca[1];
      }

      // Oᵀ += Vᵀ·Pᵀ, two k-steps of 16 tokens; this lane dequantizes tokens 2r, 2r+1, 2r+8, 2r+9 of the
      // step, channels [16g, 16g + 16): tile ct rows g, g + 8 = channels 16g + ct, 16g + 8 + ct
      const int vh = nS == 1 ? ((tp0 * cg + kvg) & 1) : vh0;
#pragma unroll
      for (int ks = 0; ks < 2; ks++) {
        uint32_t vw[4][BV / 2];
        __half sv[4] = {}, mv[4] = {};  // !VF: the tokens' value scales and mins
#pragma unroll
        for (int u = 0; u < 4; u++) {
          const int tl = 16 * ks + 2 * r + (u & 1) + 8 * (u >> 1);
          load_vwords<BV>(sb + S_::VCODE + tl * S_::VROW + 16 * g * BV / 8, vw[u]);
          if constexpr (!VF) {
            // with one scale per token, its half within the copied pair depends on the token's parity
            const int hh = nS == 1 ? ((vh + tl * cg) & 1) : vh;
            const bool in = t0 + tl < end;  // a masked token's scale and min may be garbage: 0, so 0 · code = 0
            const __half sx = ((const __half*)(sb + S_::VSC + tl * S_::VSLOT))[hh];
            const __half mx = ((const __half*)(sb + S_::VMN + tl * S_::VSLOT))[hh];
            sv[u] = in ? sx : __float2half(0.f);
            mv[u] = in ? mx : __float2half(0.f);
          }
        }
        const __half2 s01 = __halves2half2(sv[0], sv[1]), m01 = __halves2half2(mv[0], mv[1]);
        const __half2 s89 = __halves2half2(sv[2], sv[3]), m89 = __halves2half2(mv[2], mv[3]);
        // interleave the two tokens of each pair: low half-word token A, high half-word token B
        constexpr int halves = BV;  // 16-bit halves per 16 channels = 16 * BV / 16
        uint32_t x01[halves], x89[halves];
#pragma unroll
        for (int hidx = 0; hidx < halves; hidx++) {
          const int wi = hidx >> 1, sel = (hidx & 1) ? 0x7632 : 0x5410;
          x01[hidx] = __byte_perm(vw[0][wi], vw[1][wi], sel);
          x89[hidx] = __byte_perm(vw[2][wi], vw[3][wi], sel);
        }
#pragma unroll
        for (int ct = 0; ct < 8; ct++) {
          constexpr int per = 16 / BV;  // channels per half-word
          const int h0 = ct / per, h1 = (8 + ct) / per, sh = (ct % per) * BV;
          uint32_t a0, a1, a2, a3;
          if constexpr (VF) {  // scale and min are in P and the per-head sums
            a0 = codes2_biased<BV>(x01[h0], sh);
            a1 = codes2_biased<BV>(x01[h1], sh);
            a2 = codes2_biased<BV>(x89[h0], sh);
            a3 = codes2_biased<BV>(x89[h1], sh);
          } else {
            a0 = h2u(__hfma2(codes2<BV>(x01[h0], sh), s01, m01));
            a1 = h2u(__hfma2(codes2<BV>(x01[h1], sh), s01, m01));
            a2 = h2u(__hfma2(codes2<BV>(x89[h0], sh), s89, m89));
            a3 = h2u(__hfma2(codes2<BV>(x89[h1], sh), s89, m89));
          }
          mma_full(acc[ct], a0, a1, a2, a3, pb[ks][0], pb[ks][1]);
        }
      }
    }
    __syncwarp();  // every lane is done with stage st before it is refilled
    st = st + 1 == STAGES ? 0 : st + 1;
  }
  asm volatile("cp.async.wait_all;\n" ::: "memory");
  __syncthreads();  // the staging buffers become the merge buffers

  // merge the warps of the block
  float(*sacc)[8][D] = (float(*)[8][D])smem;
  float(*sm)[8] = (float(*)[8])(smem + NWARP * 8 * D * 4);
  float(*sl)[8] = (float(*)[8])(smem + NWARP * 8 * D * 4 + NWARP * 8 * 4);
#pragma unroll
  for (int e = 0; e < 2; e++) {
    l[e] += __shfl_xor_sync(0xffffffffu, l[e], 4);
    l[e] += __shfl_xor_sync(0xffffffffu, l[e], 8);
    l[e] += __shfl_xor_sync(0xffffffffu, l[e], 16);
  }
  if constexpr (VF) {
    // back to values: acc = σ·(acc − bias(channel)·vpe) + vpm, per head
    constexpr int per = 16 / BV;  // codes per 16-bit half
#pragma unroll
    for (int e = 0; e < 2; e++) {
      vpe[e] += __shfl_xor_sync(0xffffffffu, vpe[e], 4);
      vpe[e] += __shfl_xor_sync(0xffffffffu, vpe[e], 8);
      vpe[e] += __shfl_xor_sync(0xffffffffu, vpe[e], 16);
      vpm[e] += __shfl_xor_sync(0xffffffffu, vpm[e], 4);
      vpm[e] += __shfl_xor_sync(0xffffffffu, vpm[e], 8);
      vpm[e] += __shfl_xor_sync(0xffffffffu, vpm[e], 16);
    }
#pragma unroll
    for (int n = 0; n < NACC; n++) {
      // HP: acc[pt][0, 1] are pair 2pt (channels 16g + 2pt, + 8), [2, 3] pair 2pt + 1, all head r;
      // otherwise acc[ct][·] are channels 16g + ct, + 8 + ct, heads 2r + (e & 1)
      const float e0 = code_bias<BV>(((HP ? 2 * n : n) % per) * BV);
      const float e1 = HP ? code_bias<BV>(((2 * n + 1) % per) * BV) : e0;
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int h = HP ? 0 : (e & 1);
        acc[n][e] = fmaf(sig, acc[n][e] - (e < 2 ? e0 : e1) * vpe[h], vpm[h]);
      }
    }
  }
  if constexpr (HP) {
#pragma unroll
    for (int pt = 0; pt < 4; pt++) {
      sacc[warp][r][16 * g + 2 * pt] = acc[pt][0];
      sacc[warp][r][16 * g + 2 * pt + 8] = acc[pt][1];
      sacc[warp][r][16 * g + 2 * pt + 1] = acc[pt][2];
      sacc[warp][r][16 * g + 2 * pt + 9] = acc[pt][3];
    }
    if (g == 0) { sm[warp][r] = m[0]; sl[warp][r] = l[0]; }
  } else {
#pragma unroll
    for (int ct = 0; ct < 8; ct++) {
      sacc[warp][2 * r][16 * g + ct] = acc[ct][0];
      sacc[warp][2 * r + 1][16 * g + ct] = acc[ct][1];
      sacc[warp][2 * r][16 * g + 8 + ct] = acc[ct][2];
      sacc[warp][2 * r + 1][16 * g + 8 + ct] = acc[ct][3];
    }
    if (g == 0) {
      sm[warp][2 * r] = m[0]; sl[warp][2 * r] = l[0];
      sm[warp][2 * r + 1] = m[1]; sl[warp][2 * r + 1] = l[1];
    }
  }
  __syncthreads();
  const int d = threadIdx.x;  // blockDim = 128 = D
  for (int h = 0; h < G; h++) {
    float M, L, A;
    merge_warps<NWARP>(sm, sl, sacc, h, d, M, L, A);
    float* out = partial + (((size_t)b * Hq + kh * G + h) * maxSplits + split) * (2 + D);
    if (d == 0) { out[0] = M; out[1] = L; }
    out[2 + d] = A;
  }
}

extern "C" int kvq_decode_attn_uniform_mma_ok(int G, int P, int gsK, int bitsK, int gsV, int bitsV) {
  return G >= 1 && G <= 8 && P % TCH == 0 && gsK % TCH == 0 && P % gsK == 0 && gsV % 16 == 0 && (D % gsV == 0 || gsV % D == 0) &&
         ((bitsK == 2 && bitsV == 2) || (bitsK == 4 && bitsV == 2) || (bitsK == 4 && bitsV == 4) ||
          (bitsK == 2 && bitsV == 4));
}

// The 3-blocks-per-SM head-pair, value-folded, group-run kernel of widths BK/BV; with KVQ_T64 its 64-token-chunk
// build where there is one (kivi-2/g128)
template <int BK, int BV>
static auto vf_group_kernel(bool t64) {
  if constexpr (BK == 2 && BV == 2 && KVQ_T64)
    return t64 ? k_decode_uniform_mma<2, 2, true, true, true, false, true> : k_decode_uniform_mma<2, 2, true, true, true>;
  else
    return k_decode_uniform_mma<BK, BV, true, true, true>;
}
// its 4-blocks-per-SM build (kivi-2/g128 only; the launcher never picks it for other widths); with KVQ_T64=3
// the 64-token-chunk one where pages and key groups allow
template <int BK, int BV>
static auto wide_group_kernel(bool t64) {
  if constexpr (BK == 2 && BV == 2 && KVQ_T64 == 3)
    return t64 ? k_decode_uniform_mma<2, 2, true, true, true, true, true> : k_decode_uniform_mma<2, 2, true, true, true, true>;
  else
    return k_decode_uniform_mma<BK, BV, true, true, true, BK == 2 && BV == 2>;
}

// Launches the tensor-core kernel; the caller (decode_attn.cu) validated the arguments, checked
// kvq_decode_attn_uniform_mma_ok, and runs the split combine afterwards.
extern "C" int kvq_launch_decode_uniform_mma(const uint16_t* q, const uint8_t* pool, const int* pageTable,
                                              const int* lens, float* partial, int B, int Hq, int Hkv, int maxPages,
                                              int P, int splitPages, int maxSplits, float scaleLog2, int bitsK,
                                              int gsK, int bitsV, int gsV, size_t keyBytes, size_t pageBytes) {
  const int G = Hq / Hkv;
  dim3 grid(maxSplits * Hkv, 1, B);  // KV heads fastest: see the kernel
  const bool vf = gsV % D == 0;      // one value scale per token and head: folded into P
  const bool gr = gsK > TCH;         // key groups of several chunks: walked whole by one warp
  // the kivi-2/g128 kernel (2-bit keys and values, head pairs, key-group runs, folded value scales) has a
  // 4-blocks-per-SM build for grids of more blocks than the 3-per-SM one holds at once; only its launches
  // ask for the SM count
  const bool kivi2g128 = bitsK == 2 && bitsV == 2 && G <= 4 && vf && gr;
  bool wide = false;
  if (kivi2g128) {
    int sms = 0;
    KVQ_CUDA_TRY(kvq_sm_count(&sms));
    wide = (long long)grid.x * B > 3LL * sms && (!KVQ_WIDE_POW2 || (pow_div(P).shift >= 0 && pow_div(gsK).shift >= 0));
  }
  // KVQ_T64: the batch-1 kivi-2/g128 kernel walks 64-token chunks where pages and key groups are multiples of 64;
  // KVQ_T64=2: on every grid (at 3 blocks per SM instead of the 4-blocks-per-SM kernel); 3: both kernels do
  const bool t64ok = kivi2g128 && P % 64 == 0 && gsK % 64 == 0;
  if (KVQ_T64 == 2 && t64ok) wide = false;
  const bool t64 = KVQ_T64 && t64ok && (!wide || KVQ_T64 == 3);
#define KVQ_M(BK_, BV_)                                                                                         \
  if (bitsK == BK_ && bitsV == BV_) {                                                                            \
    auto k_ = gr ? (G <= 4 ? (vf ? (wide ? wide_group_kernel<BK_, BV_>(t64) : vf_group_kernel<BK_, BV_>(t64)) \
                                  : k_decode_uniform_mma<BK_, BV_, true, false, true>) \
                           : (vf ? k_decode_uniform_mma<BK_, BV_, false, true, true> : k_decode_uniform_mma<BK_, BV_, false, false, true>)) \
                 : (G <= 4 ? (vf ? k_decode_uniform_mma<BK_, BV_, true, true, false> : k_decode_uniform_mma<BK_, BV_, true, false, false>) \
                           : (vf ? k_decode_uniform_mma<BK_, BV_, false, true, false> : k_decode_uniform_mma<BK_, BV_, false, false, false>)); \
    k_<<<grid, 128>>>(q, pool, pageTable, lens, partial, G, Hq, Hkv, maxPages, P, splitPages, maxSplits, scaleLog2, \
                      gsK, gsV, keyBytes, pageBytes, pow_div(P), pow_div(gsK));                                  \
  } else
  KVQ_M(2, 2) KVQ_M(4, 2) KVQ_M(4, 4) KVQ_M(2, 4) { return (int)cudaErrorInvalidValue; }
#undef KVQ_M
  KVQ_LAUNCHED();
  return 0;
}
