// Decode attention over HIGGS pages (FORMAT.md "higgs" with Hadamard blocks of one head, 128 channels:
// the format of AQUA-KV's residuals in the aqua-* and kvq-2 presets), on tensor cores, reading the codes
// directly — no decoded copy of the cache is written.
//
// The Hadamard rotation is moved out of the inner loop, exactly: a stored token is
// x̂ = signs ⊙ H·(s·y) with H the orthonormal (symmetric) Walsh–Hadamard matrix, y the grid points of
// its codes and s its fp16 scale. So q·x̂ = s·((H·(signs ⊙ q))·y): the query is rotated once per
// block, every score is one dot product with grid points times one scale; and
// Σ p_t x̂_t = signs ⊙ H·(Σ (p_t s_t) y_t): the output is accumulated in the rotated space and rotated
// back once, in the split combine, and each token's value scale rides in its softmax weight (the B
// operand of P·V), so grid points go into the MMA untouched.
//
// Codes are pair codes of CB bits: a 2-D grid point (dim 2, CB = 2·bits), or two 1-D levels packed
// LSB-first (dim 1, CB = 2·bits: code = c_{2p} | c_{2p+1} << bits). A lookup table of 2^CB half2 in
// shared memory turns one pair code into an operand register of mma.m16n8k16 directly.
//
// Layout of the MMAs (mma.m16n8k16, fp32 accumulation; no padded rows): scores S = K·Qᵀ take 16 tokens
// as M and the (up to 8) query heads of one KV head as N; lane (g, r) = (lane / 4, lane % 4) feeds
// pairs [16r, 16r + 16) of tokens g and g + 8 and holds the scores of those tokens for heads 2r, 2r + 1.
// movmatrix transposes the fp16 weights into the B operand of Oᵀ += Vᵀ·Pᵀ, which takes 16 channels as M
// (rows g, g + 8 = the two channels of pair 8g + ct of channel tile ct) and 16 tokens as K.
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>
#include <type_traits>
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
#define TCH 32  // tokens per warp chunk
#ifndef KVQ_HIGGS_MIN_BLOCKS
#define KVQ_HIGGS_MIN_BLOCKS 2  // blocks per SM the register allocation aims for
#endif
// The same for the head-pair kernels (G ≤ 4): 5 (94 registers for aqua-2.5's 5/4-bit codes, 89 for
// kvq-2's 4/4, no spills on sm_90) instead of the 4 their 117 / 105 registers allow. 2026-12-07 A/B on
// an H100 (bench/results/h100-2026-12-07-ab3-*), B=16 128k: aqua-2.5 pages 0.6800 -> 0.6664 ms, aqua-2
// 0.7457 -> 0.7395, kvq-2 K2/V2 0.5696 -> 0.5718, 32k and B=1 within 1%; 6 blocks (80 registers) was
// slower for all three.
#ifndef KVQ_HIGGS_HP_MIN_BLOCKS
#define KVQ_HIGGS_HP_MIN_BLOCKS 5
#endif
// The plain head-pair kernels also have a build with 8 warps per block (NW = 8, 256 threads), launched
// where the grid is small (at most 2 blocks per SM, e.g. batch 1): each warp then walks half as many
// chunks of its split, so twice as many warps per SM hide each other's latency, with the same splits (the
// combine unchanged). 2 blocks of 256 threads per SM; only for pair-code widths whose 8 warps' stages fit
// in 48 KB of static shared memory (HStage::SMEM). Measured with the shuffle query rotation and the
// one-pass split combine on an H100 (bench/results/h100-2026-12-07-s16-ab-*, GPU alone): batch 1 at 4k
// aqua-2.5 pages 0.0139 -> 0.0113 ms, kvq-2 K2/V2 0.0132 -> 0.0108; batch 1 at 32k and 128k and batch 16
// within 3%.
#define KVQ_HIGGS_WIDE_MIN_BLOCKS 2
// The value-chain kernels (NV > 1 value layers, below): 3 blocks per SM.
#ifndef KVQ_HIGGS_CHAIN_MIN_BLOCKS
#define KVQ_HIGGS_CHAIN_MIN_BLOCKS 3
#endif
#define MAXNV 4  // value layers of a value chain, the layer's own included
// The key-chain kernels with 3 or 4 key layers (their folded queries take 16 more registers per layer): 2.
#ifndef KVQ_HIGGS_KCHAIN_MIN_BLOCKS
#define KVQ_HIGGS_KCHAIN_MIN_BLOCKS 2
#endif
// 1: the key-chain kernels read the folded queries of key layers 1 .. NK − 1 from shared memory (one 8-byte
// load per MMA) instead of holding them in registers (for A/B runs, with KVQ_HIGGS_KCHAIN_MIN_BLOCKS=3)
#ifndef KVQ_KCHAIN_SMEM_Q
#define KVQ_KCHAIN_SMEM_Q 0
#endif
#ifndef KVQ_HIGGS_EARLY
#define KVQ_HIGGS_EARLY 1  // issue the first chunk's copies before the query rotation (0: after it, for A/B runs)
#endif
// 1 (default; 0 for A/B runs): conflict-free staging without padding. The chunk's code rows are stored in shared memory in
// a permuted row order (RowCopies with a RowOf; the copies still write piece after piece): 40-byte key rows
// (5-bit key pair codes: aqua-2.5) so that the 8 rows g + 8i of one slice load land at slots 2g + c (banks
// 20g + 0, 2, 5, 7: a permutation of the 32 banks; 2-way conflicts before), and, in the head-pair kernels,
// 32-byte value rows (4-bit value pair codes) so that rows 8ks + 2r (+ 1) of one load take 4 different bank
// quarters (2-way conflicts before). Aimed at the ~3.3 M bank-conflict wavefronts (of 32 M shared wavefronts,
// aqua-2.5 B=16 32k; kvq-2 1.7 M) without the 48-byte padding that was tried (that one made the stages larger).
// Same stage size and copies; sm_90 SASS of aqua-2.5's head-pair kernel: 730 instructions per warp chunk
// instead of 721 (the row order costs a few LOP3s), no change in registers (95) or in the LDS count.
// (A variant that also stored the scale words for one 16-byte load per lane made nvcc keep the lookup
// table's base in a plain register, +100 IMADs per chunk: dropped.)
// Measured with KVQ_HIGGS_PIN_COPIES below (bench/results/h100-2026-12-07-s20-ab-*: H100, GPU-alone ms, one
// call, all four builds): aqua-2.5 16 × 32k 0.1965 → 0.1910, 16 × 128k 0.6746 → 0.6492, 1 × 128k 0.0624 →
// 0.0601; kvq-2 16 × 128k 0.5767 → 0.5685; the uniform formats (other kernels) unchanged.
#ifndef KVQ_HIGGS_SWZ
#define KVQ_HIGGS_SWZ 1
#endif
// 1 (default; 0 for A/B runs): the per-lane cp.async offsets (RowCopies src/dst) are made opaque to the compiler after
// they are computed once per block, so that it keeps them in registers instead of recomputing them from the
// thread index in every chunk (the default sm_90 build spends ~117 of aqua-2.5's ~721 instructions per warp
// chunk on issuing the next chunk's copies, much of it that recomputation). Holds 14 more values (aqua-2.5:
// 5 + 2 pieces × src/dst) under the 5-blocks-per-SM bound; sm_90, aqua-2.5's head-pair kernel: 96 registers
// instead of 95, no spills, 710 instructions per warp chunk instead of 721 (nvcc still recomputes part).
#ifndef KVQ_HIGGS_PIN_COPIES
#define KVQ_HIGGS_PIN_COPIES 1
#endif

namespace {

// NBITS bits starting at bit `start` of a row in shared memory (4-byte aligned), as aligned words
// a[0..]: bit j of the slice is bit j % 32 of a[j / 32]. `start` is a multiple of 8.
template <int NBITS>
struct Slice {
  static constexpr int NA = (NBITS + 31) / 32;
  uint32_t a[NA];
  __device__ __forceinline__ void load(const uint8_t* row, int start) {
    const uint32_t* w = (const uint32_t*)row + (start >> 5);
    const int sh = start & 31;
    // raw words touched: bits [sh, sh + NBITS) of w[0..]; never read past the last one
    uint32_t prev = w[0];
#pragma unroll
    for (int x = 0; x < NA; x++) {
      const bool more = 32 * (x + 1) < NBITS + 31;  // a[x] may need bits of w[x + 1] (sh up to 24)
      const uint32_t next = more ? w[x + 1] : 0u;
      a[x] = sh ? __funnelshift_r(prev, next, sh) : prev;
      prev = next;
    }
  }
  // code j × 4 (a byte offset into a table of 4-byte entries), in two instructions
  template <int CB>
  __device__ __forceinline__ uint32_t code4(int j) const {
    const int bit = j * CB, wi = bit >> 5, off = bit & 31;
    constexpr uint32_t m4 = ((1u << CB) - 1) << 2;
    if (off + CB > 32) return __funnelshift_r(a[wi], a[wi + 1], off - 2) & m4;
    if (off >= 2) return (a[wi] >> (off - 2)) & m4;
    return (a[wi] << (2 - off)) & m4;
  }
};

// The codes of a Slice as table byte offsets (code × 4). CB = 4: each word's even and odd nibbles ×4 are
// spread into the bytes of two words once (4 instructions per 8 codes), then a code is one byte permute;
// other widths: Slice::code4, two instructions per code.
template <int NBITS, int CB>
struct Codes : Slice<NBITS> {
  static constexpr int NE = CB == 4 ? Slice<NBITS>::NA : 1;
  uint32_t e[NE], o[NE];
  __device__ __forceinline__ void load(const uint8_t* row, int start) {
    Slice<NBITS>::load(row, start);
    if constexpr (CB == 4) {
#pragma unroll
      for (int x = 0; x < NE; x++) {
        e[x] = (this->a[x] << 2) & 0x3c3c3c3cu;
        o[x] = (this->a[x] >> 2) & 0x3c3c3c3cu;
      }
    }
  }
  __device__ __forceinline__ uint32_t at(int j) const {
    if constexpr (CB == 4) {
      const int x = j >> 3, n = j & 7;
      return __byte_perm(n & 1 ? o[x] : e[x], 0u, 0x4440u | (n >> 1));
    } else {
      return this->template code4<CB>(j);
    }
  }
};

// KVQ_HIGGS_SWZ's row orders (slot s of the stage holds source row row(s); slot(t) is the inverse).
// Key rows of 40 bytes: t = a + 8b + 16c (a < 8) at slot 2a + 16b + c.
struct KeySlots40 {
  __host__ __device__ static constexpr int row(int s) { return ((s >> 1) & 7) + 8 * (s >> 4) + 16 * (s & 1); }
  __host__ __device__ static constexpr int slot(int t) { return 2 * (t & 7) + 16 * ((t >> 3) & 1) + (t >> 4); }
};
// Value rows of 32 bytes, within each group of 8: row 8q + 2u + v at slot 8q + 4v + u (the loads use the slots
// 8ks + r, 8ks + 4 + r of rows 8ks + 2r, 8ks + 2r + 1 directly).
struct ValueSlots32 {
  __host__ __device__ static constexpr int row(int s) { return (s & ~7) | ((s & 3) << 1) | ((s >> 2) & 1); }
  __host__ __device__ static constexpr int slot(int t) { return (t & ~7) | ((t & 1) << 2) | ((t >> 1) & 3); }
};
template <class S>
constexpr bool slots_ok() {  // row() and slot() are inverse permutations of the chunk's TCH rows
  for (int t = 0; t < TCH; t++)
    if (S::slot(t) < 0 || S::slot(t) >= TCH || S::row(S::slot(t)) != t) return false;
  return true;
}
static_assert(slots_ok<KeySlots40>() && slots_ok<ValueSlots32>(), "KVQ_HIGGS_SWZ row orders");
static_assert(ValueSlots32::slot(2) == 1 && ValueSlots32::slot(3) == 5 && ValueSlots32::slot(14) == 11 &&
                  ValueSlots32::slot(15) == 15,
              "value rows 8ks + 2r (+ 1) at slots 8ks + r (+ 4)");

// Per-warp staging of a 32-token chunk of one KV head: for each of NK key layers key codes [32][KROW] and
// key scale words [32], then for each of NV value layers value codes [32][VROW] and value scale words [32]
// (each scale word holds the token's fp16 scale in one half); key layer j's parts are KHOP·j bytes after
// layer 0's, value layer j's VHOP·j bytes after value layer 0's. STAGES: KVQ_STAGES, or 2 where that many
// stages would not fit in 40 KB of static shared memory; SB: a warp's stages; SMEM: a block of NW warps'
// shared bytes for the stages, or for the merge of the warps after them if that is larger.
template <int CBK, int CBV, int NV = 1, int NK = 1, int NW = NWARP>
struct HStage {
  static constexpr int KROW = 8 * CBK, VROW = 8 * CBV;  // 64 pairs × CB bits / 8
  static constexpr int KCODE = 0, KSC = KCODE + TCH * KROW, KHOP = TCH * KROW + TCH * 4, VCODE = NK * KHOP,
                       VSC = VCODE + TCH * VROW, VHOP = TCH * VROW + TCH * 4, BYTES = VCODE + NV * VHOP;
  static constexpr int STAGES = NWARP * KVQ_STAGES * BYTES <= 40960 ? KVQ_STAGES : 2, SB = STAGES * BYTES,
                       MERGE = NW * 8 * D * 4 + 2 * NW * 8 * 4, SMEM = NW * SB > MERGE ? NW * SB : MERGE;
  // (references the offsets, so that sizing an instantiation that no kernel uses, as the 8-warp launcher's
  // shared-memory check does, draws no unused-member warnings)
  static_assert(KCODE == 0 && KSC < KHOP && VSC > VCODE, "stage layout");
};

// The pools of the earlier layers of a chain (layers 1 .. NV − 1; layer 0 is the pool of the layer being
// read). Same page geometry as that pool; the same page table. With a key chain (NK = NV), keyFold holds
// for key layers 1 .. NK − 1 and each KV head the query fold q'[d] = A·q[d] + B·q[partner[d]] as fp32
// [NK − 1][Hkv][D][2] (A, B), partner int32 [D] (the channel RoPE pairs d with, or d itself).
struct ValueChain {
  const uint8_t* pool[MAXNV - 1];
  const float* keyFold;
  const int* keyPartner;
};

// HP ("head pairs", G ≤ 4): the scores' 8 MMA columns hold each query head twice (column n = head n / 2),
// and P·V runs as Oᵀ[pairs × (head, j)] += Y[pairs × (token, j)]·B, K = 8 tokens × the 2 channels j of a
// pair, N = 4 heads × 2, B[(τ, j)][(h, j')] = p_τh·[j = j']: a looked-up grid point is an A register as
// it is (no transposition of value pairs), no MMA column is padding for G = 4, the online softmax runs
// once per (token, head) and the accumulator is half as large. HP = false: the layout above (G ≤ 8).
//
// NV > 1 (value chains, HP only): the softmax weights of the layer's scores are applied to the values of NV
// layers (the layer's own, then vc.pool[0 ..]), each into its own accumulator, for an exact fold of linear
// value predictors: see kvq_decode_attn_higgs_chain. A split's partial row is [M, L, A_0[D] .. A_{NV−1}[D]].
// NK = NV > 1 (key chains): the scores add the keys of the same NK layers, each against the query folded
// for its layer (vc.keyFold): an exact fold of RoPE-commuting key predictors.
template <int CBK, int CBV, bool HP, int NV = 1, int NK = 1, int NW = NWARP>
__global__ void __launch_bounds__(32 * NW, NW != NWARP ? KVQ_HIGGS_WIDE_MIN_BLOCKS
                                           : NK > 2    ? KVQ_HIGGS_KCHAIN_MIN_BLOCKS
                                           : NV > 1    ? KVQ_HIGGS_CHAIN_MIN_BLOCKS
                                           : HP        ? KVQ_HIGGS_HP_MIN_BLOCKS
                                                       : KVQ_HIGGS_MIN_BLOCKS)
    k_decode_higgs_mma(const uint16_t* q, const uint8_t* pool, const int* pageTable, const int* lens, float* partial,
                       int G, int Hq, int Hkv, int maxPages, int P, int splitPages, int maxSplits, float scaleLog2,
                       size_t keyBytes, size_t pageBytes, const float2* lutKg, const float2* lutVg,
                       const float* signsK, PowDiv pd, ValueChain vc) {
  static_assert(NV >= 1 && NV <= MAXNV && (HP || NV == 1), "value chains run the head-pair layout");
  static_assert(NK == 1 || NK == NV, "a key chain has the value chain's layers");
  static_assert(NW == NWARP || (NW == 8 && HP && NV == 1), "8 warps: the plain head-pair kernel only");
  KVQ_PDL_TRIGGER();
  // blockIdx.x = split · Hkv + kh: the blocks of one split of all KV heads run side by side, so the heads'
  // interleaved rows of each page ([token][head][codes]) are read by concurrent blocks
  const int split = blockIdx.x / Hkv, kh = blockIdx.x - split * Hkv, b = blockIdx.z;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, r = lane & 3;
  const int len = lens[b];
  const int start = split * splitPages * P, end = min(len, start + splitPages * P);
  const int KS = 2 * P * Hkv;  // bytes of the scale field of a block

  using S_ = HStage<CBK, CBV, NV, NK, NW>;
  constexpr int STAGES = S_::STAGES, SB = S_::SB;
  // value chains: S_::SMEM bytes of dynamic shared memory (more than the 48 KB static limit allows)
  __shared__ __align__(16) uint8_t smem1[NV > 1 ? 16 : S_::SMEM];
  extern __shared__ __align__(16) uint8_t smemDyn[];
  uint8_t* const smem = NV > 1 ? smemDyn : smem1;
  __shared__ float qrot[NK][8][D];  // per key layer: the rotated (and, past layer 0, folded) query heads
  // both tables in one array: a value lookup is the key table's base + a constant offset (one uniform
  // register for both in the loads' addresses)
  __shared__ uint32_t lut[(1 << CBK) + (1 << CBV)];
  uint32_t* const lutK = lut;
  uint32_t* const lutV = lut + (1 << CBK);

  uint8_t* const wbuf = smem + warp * SB;
  const int stride = NW * TCH;
  const uint32_t rowK = Hkv * S_::KROW, rowV = Hkv * S_::VROW;  // bytes per token of a block's codes
  // KVQ_HIGGS_SWZ: permuted key rows (5-bit key codes) and value rows (head pairs, 4-bit value codes)
  constexpr bool SWK = KVQ_HIGGS_SWZ && CBK == 5, SWV = KVQ_HIGGS_SWZ && HP && CBV == 4;
  RowCopies<TCH, S_::KROW, std::conditional_t<SWK, KeySlots40, RowIdentity>> kcopy;
  RowCopies<TCH, S_::VROW, std::conditional_t<SWV, ValueSlots32, RowIdentity>> vcopy;
  kcopy.init(lane, rowK);
  vcopy.init(lane, rowV);
#if KVQ_HIGGS_PIN_COPIES
#pragma unroll
  for (int i = 0; i < decltype(kcopy)::N; i++) asm volatile("" : "+r"(kcopy.src[i]), "+r"(kcopy.dst[i]));
#pragma unroll
  for (int i = 0; i < decltype(vcopy)::N; i++) asm volatile("" : "+r"(vcopy.src[i]), "+r"(vcopy.dst[i]));
#endif

  auto issue = [&](int t, int page_, int st) {
    const size_t po = (size_t)page_ * pageBytes;
    const uint8_t* pg = pool + po;
    const int tp0 = pd.mod(t);
    uint8_t* sb = wbuf + st * S_::BYTES;
#pragma unroll
    for (int j = 0; j < NK; j++)
      kcopy.issue(sb + S_::KCODE + j * S_::KHOP, (j ? vc.pool[j - 1] + po : pg) + (KS + tp0 * rowK + kh * S_::KROW));
#pragma unroll
    for (int j = 0; j < NV; j++)
      vcopy.issue(sb + S_::VCODE + j * S_::VHOP, (j ? vc.pool[j - 1] + po : pg) + (keyBytes + KS + tp0 * rowV + kh * S_::VROW));
    // scales: token lane, head kh → fp16 index (tp0 + lane)·Hkv + kh; copy the aligned 4-byte pair
    const int si = ((tp0 + lane) * Hkv + kh) & ~1;
#pragma unroll
    for (int j = 0; j < NK; j++)
      cp_async4(sb + S_::KSC + j * S_::KHOP + 4 * lane, (const uint16_t*)(j ? vc.pool[j - 1] + po : pg) + si);
#pragma unroll
    for (int j = 0; j < NV; j++)
      cp_async4(sb + S_::VSC + j * S_::VHOP + 4 * lane, (const uint16_t*)((j ? vc.pool[j - 1] + po : pg) + keyBytes) + si);
  };

  const int first = start + warp * TCH;
  auto next = [&](int t) { return t + stride; };
  int st = 0;
  const int* const pageRow = pageTable + (size_t)b * maxPages;
  ChunkPipeline<STAGES> pipe;  // STAGES − 1 chunks in flight ahead of chunk t0
  // the first chunk's copies go out before the query is rotated, so that their latency overlaps the
  // rotation's barriers instead of following them
  if (KVQ_HIGGS_EARLY) pipe.start(first, end, pageRow, pd, issue, next);

  // rotate the block's query heads: q̃ = H·(signs_K ⊙ q) (H unnormalized here: `norm` below), into shared
  // memory. One warp per head (and key layer), lane l holding channels l + 32i: the butterflies over channel
  // bits 0–4 are shuffles, those over bits 5 and 6 within the lane's 4 values, so that no barrier is needed
  // between the stages.
  for (int h = warp; h < NK * G; h += NW) {  // key layer j = h / G, head h % G
    const int j = h / G, hh = h % G;
    const uint16_t* qh = q + ((size_t)b * Hq + kh * G + hh) * D;
    float v[4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int d = lane + 32 * i;
      float x = __half2float(__ushort_as_half(qh[d]));
      if (NK > 1 && j) {  // key layer j > 0: the query folded through the key predictors of layers l − j + 1 .. l
        const float* f = vc.keyFold + (((size_t)(j - 1) * Hkv + kh) * D + d) * 2;
        x = f[0] * x + f[1] * __half2float(__ushort_as_half(qh[vc.keyPartner[d]]));
      }
      v[i] = signsK[d] * x;
    }
#pragma unroll
    for (int hs = 1; hs < 32; hs <<= 1)
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const float o = __shfl_xor_sync(0xffffffffu, v[i], hs);
        v[i] = (lane & hs) ? o - v[i] : v[i] + o;
      }
    const float b0 = v[0] + v[1], b1 = v[0] - v[1], b2 = v[2] + v[3], b3 = v[2] - v[3];  // channel bit 5
    float* const row = qrot[NK == 1 ? 0 : j][hh];
    row[lane] = b0 + b2;  // channel bit 6
    row[lane + 32] = b1 + b3;
    row[lane + 64] = b0 - b2;
    row[lane + 96] = b1 - b3;
  }
  for (int x = threadIdx.x; x < (1 << CBK); x += blockDim.x) lutK[x] = h2u(__float22half2_rn(lutKg[x]));
  for (int x = threadIdx.x; x < (1 << CBV); x += blockDim.x) lutV[x] = h2u(__float22half2_rn(lutVg[x]));
  __syncthreads();
  if (!KVQ_HIGGS_EARLY) pipe.start(first, end, pageRow, pd, issue, next);

  const float norm = rsqrtf((float)D);
  // key layers [0, NKR) keep their folded queries in registers, the others (KVQ_KCHAIN_SMEM_Q) in qsh
  constexpr int NKR = KVQ_KCHAIN_SMEM_Q ? 1 : NK;
  uint32_t qp[NKR][16];  // per key layer: pairs 16r + j of the head of MMA column g, fp16
  const int hq = HP ? g >> 1 : g;
#pragma unroll
  for (int i = 0; i < NKR; i++)
#pragma unroll
    for (int j = 0; j < 16; j++) {
      const int p = 16 * r + j;
      qp[i][j] = hq < G ? h2u(__floats2half2_rn(qrot[i][hq][2 * p] * norm, qrot[i][hq][2 * p + 1] * norm)) : 0u;
    }
  __shared__ __align__(8) uint32_t qsh[NK > NKR ? NK - NKR : 1][HP ? 4 : 8][D / 2];
  if constexpr (NK > NKR) {
    for (int x = threadIdx.x; x < (NK - NKR) * (HP ? 4 : 8) * (D / 2); x += blockDim.x) {
      const int i = x / ((HP ? 4 : 8) * (D / 2)), h = (x / (D / 2)) % (HP ? 4 : 8), p = x % (D / 2);
      qsh[i][h][p] = h < G ? h2u(__floats2half2_rn(qrot[NKR + i][h][2 * p] * norm, qrot[NKR + i][h][2 * p + 1] * norm)) : 0u;
    }
    __syncthreads();
  }

  // HP: [pair tile pt][c0..c3] = channels 16g + 4pt + (0..3) of head r.
  // Otherwise: [channel tile ct][c0..c3] = channels 2(8g + ct) (+1 for c2, c3), heads 2r (c0, c2), 2r + 1.
  constexpr int NACC = HP ? 4 : 8;
  float acc[NV][NACC][4];  // per value layer
#pragma unroll
  for (int j = 0; j < NV; j++)
#pragma unroll
    for (int n = 0; n < NACC; n++) acc[j][n][0] = acc[j][n][1] = acc[j][n][2] = acc[j][n][3] = 0.f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};  // heads 2r, 2r + 1 (HP: head r in [0]; l: this lane's share)
  // HP: B of P·V for lane (g, r) is (p, 0) for j' = g & 1 = 0, (0, p) for 1: byte selectors of the low/high half
  const uint32_t selLo = (g & 1) ? 0x1054u : 0x5410u, selHi = (g & 1) ? 0x3254u : 0x5432u;

  for (int t0 = first; t0 < end; t0 += stride) {
    pipe.step(end, pageRow, pd, issue, next);
    cp_async_wait<STAGES - 1>();
    __syncwarp();
    const uint8_t* sb = wbuf + st * S_::BYTES;
    const int tp0 = pd.mod(t0);
    // the half of each copied scale word that holds this token's scale
    auto scaleOf = [&](int off, int tl) {
      const int par = ((tp0 + tl) * Hkv + kh) & 1;
      return __half2float(((const __half*)(sb + off + 4 * tl))[par]);
    };

    const uint8_t* lk = (const uint8_t*)lut;
    const uint8_t* lv = lk + 4 * (1 << CBK);
    // scores S = K·Qᵀ: 2 tiles of 16 tokens (rows) × 8 heads; lane holds tokens 16mt + g (+8), heads 2r, 2r + 1
    // the scores of key layer j's codes against query operands b(k) = (b0, b1) of k-step k (16 channels)
    auto keyScores = [&](int j, float(&acc)[2][4], auto b) {
#pragma unroll
      for (int mt = 0; mt < 2; mt++) acc[mt][0] = acc[mt][1] = acc[mt][2] = acc[mt][3] = 0.f;
      Codes<16 * CBK, CBK> ks[4];  // tokens g + 8i
#pragma unroll
      for (int i = 0; i < 4; i++)
        ks[i].load(sb + S_::KCODE + j * S_::KHOP + (SWK ? KeySlots40::slot(g + 8 * i) : g + 8 * i) * S_::KROW, 16 * r * CBK);
#pragma unroll
      for (int k = 0; k < 8; k++) {
        const uint2 bk = b(k);
#pragma unroll
        for (int mt = 0; mt < 2; mt++) {
          const uint32_t a0 = *(const uint32_t*)(lk + ks[2 * mt].at(2 * k));
          const uint32_t a1 = *(const uint32_t*)(lk + ks[2 * mt + 1].at(2 * k));
          const uint32_t a2 = *(const uint32_t*)(lk + ks[2 * mt].at(2 * k + 1));
          const uint32_t a3 = *(const uint32_t*)(lk + ks[2 * mt + 1].at(2 * k + 1));
          mma_full(acc[mt], a0, a1, a2, a3, bk.x, bk.y);
        }
      }
    };
    float c[2][4];
    keyScores(0, c, [&](int k) { return make_uint2(qp[0][2 * k], qp[0][2 * k + 1]); });
    // scores in log2 units, −inf for masked tokens: s[mt][e] is token 16mt + g (+ 8 for e ≥ 2), column
    // 2r + (e & 1)
    float s[2][4];
#pragma unroll
    for (int mt = 0; mt < 2; mt++)
#pragma unroll
      for (int hi = 0; hi < 2; hi++) {
        const int tl = 16 * mt + g + 8 * hi;
        const bool in = t0 + tl < end;
        const float sk = scaleOf(S_::KSC, tl) * scaleLog2;  // garbage for masked tokens: not used
        s[mt][2 * hi] = in ? c[mt][2 * hi] * sk : -INFINITY;
        s[mt][2 * hi + 1] = in ? c[mt][2 * hi + 1] * sk : -INFINITY;
      }
    // key chain: each earlier layer's keys against the query folded for it, times that layer's scales
#pragma unroll
    for (int j = 1; j < NK; j++) {
      float cj[2][4];
      keyScores(j, cj, [&](int k) {
        if (j < NKR) return make_uint2(qp[j < NKR ? j : 0][2 * k], qp[j < NKR ? j : 0][2 * k + 1]);
        return *(const uint2*)&qsh[j >= NKR ? j - NKR : 0][hq][16 * r + 2 * k];
      });
#pragma unroll
      for (int mt = 0; mt < 2; mt++)
#pragma unroll
        for (int hi = 0; hi < 2; hi++) {
          const int tl = 16 * mt + g + 8 * hi;
          if (t0 + tl < end) {
            const float sk = scaleOf(S_::KSC + j * S_::KHOP, tl) * scaleLog2;
            s[mt][2 * hi] += cj[mt][2 * hi] * sk;
            s[mt][2 * hi + 1] += cj[mt][2 * hi + 1] * sk;
          }
        }
    }
    if constexpr (HP) {
      // columns 2r and 2r + 1 both hold head r: s[mt][0] (= s[mt][1]) is token 16mt + g, s[mt][2] token + 8
      float corr;
      const float base = softmax_step(m[0], s[0][0], s[0][2], s[1][0], s[1][2], corr);
      // P (value scales folded in) of the 8 tokens T = 8·ks of step ks = 2mt + hi, transposed: lane (g, r)
      // gets head g / 2 at tokens T + 2r (τ = r) and T + 2r + 1 (τ = r + 4), placed at j' = g & 1
      uint32_t pb[NV][4][2];  // per value layer: its token scales differ
      float ps = 0.f;
#pragma unroll
      for (int mt = 0; mt < 2; mt++)
#pragma unroll
        for (int hi = 0; hi < 2; hi++) {
          const int tl = 16 * mt + g + 8 * hi;
          float sv[NV];
#pragma unroll
          for (int j = 0; j < NV; j++)  // a masked token's word may be garbage
            sv[j] = t0 + tl < end ? scaleOf(S_::VSC + j * S_::VHOP, tl) : 0.f;
          const float p = ex2(s[mt][2 * hi] - base);  // 0 for masked tokens
          ps += p;
#pragma unroll
          for (int j = 0; j < NV; j++) head_pair_b(p * sv[j], selLo, selHi, pb[j][2 * mt + hi]);
        }
      l[0] = l[0] * corr + ps;
#pragma unroll
      for (int j = 0; j < NV; j++)
#pragma unroll
        for (int n = 0; n < NACC; n++) {
          acc[j][n][0] *= corr; acc[j][n][1] *= corr; acc[j][n][2] *= corr; acc[j][n][3] *= corr;
        }
      // Oᵀ += Y·B per step of 8 tokens: A row g = pair 8g + 2pt, row g + 8 = pair 8g + 2pt + 1 (codes of
      // both in the lane's slice of pairs [8g, 8g + 8)), K (τ, j): τ = r → token T + 2r, τ = r + 4 → T + 2r + 1
#pragma unroll
      for (int j = 0; j < NV; j++)
#pragma unroll
        for (int ks = 0; ks < 4; ks++) {
          Codes<8 * CBV, CBV> v0, v1;
          // (SWV: rows 8ks + 2r and 8ks + 2r + 1 are at slots 8ks + r and 8ks + 4 + r)
          v0.load(sb + S_::VCODE + j * S_::VHOP + (SWV ? 8 * ks + r : 8 * ks + 2 * r) * S_::VROW, 8 * g * CBV);
          v1.load(sb + S_::VCODE + j * S_::VHOP + (SWV ? 8 * ks + 4 + r : 8 * ks + 2 * r + 1) * S_::VROW, 8 * g * CBV);
#pragma unroll
          for (int pt = 0; pt < 4; pt++) {
            const uint32_t a0 = *(const uint32_t*)(lv + v0.at(2 * pt));
            const uint32_t a1 = *(const uint32_t*)(lv + v0.at(2 * pt + 1));
            const uint32_t a2 = *(const uint32_t*)(lv + v1.at(2 * pt));
            const uint32_t a3 = *(const uint32_t*)(lv + v1.at(2 * pt + 1));
            mma_full(acc[j][pt], a0, a1, a2, a3, pb[j][ks][0], pb[j][ks][1]);
          }
        }
    } else {
      float corr[2], base[2];
#pragma unroll
      for (int e = 0; e < 2; e++) base[e] = softmax_step(m[e], s[0][e], s[0][e + 2], s[1][e], s[1][e + 2], corr[e]);
      // P with each token's value scale folded in (Σ p_t s_t y_t = Σ (p_t s_t) y_t), transposed into the
      // B operand of P·V (tokens × heads → per lane: head g, tokens 2r, 2r + 1 (+8)); l sums the bare p
      uint32_t pb[2][2];
      float ps[2] = {0.f, 0.f};
#pragma unroll
      for (int mt = 0; mt < 2; mt++) {
        float p[4], sv[2];
#pragma unroll
        for (int hi = 0; hi < 2; hi++) {
          const int tl = 16 * mt + g + 8 * hi;
          const float sc = scaleOf(S_::VSC, tl);
          sv[hi] = t0 + tl < end ? sc : 0.f;  // a masked token's scale word may be garbage (inf · 0)
        }
#pragma unroll
        for (int e = 0; e < 4; e++) {
          p[e] = ex2(s[mt][e] - base[e & 1]);  // 0 for masked tokens
          ps[e & 1] += p[e];
        }
        pb[mt][0] = movmatrix_t(h2u(__floats2half2_rn(p[0] * sv[0], p[1] * sv[0])));
        pb[mt][1] = movmatrix_t(h2u(__floats2half2_rn(p[2] * sv[1], p[3] * sv[1])));
      }
#pragma unroll
      for (int e = 0; e < 2; e++) l[e] = l[e] * corr[e] + ps[e];
#pragma unroll
      for (int n = 0; n < 8; n++) {
        acc[0][n][0] *= corr[0]; acc[0][n][1] *= corr[1]; acc[0][n][2] *= corr[0]; acc[0][n][3] *= corr[1];
      }

      // O^T += V^T·P^T: 8 tiles of 16 channels (rows g, g + 8 = channels 2p, 2p + 1 of pair p = 8g + ct)
#pragma unroll
      for (int kstep = 0; kstep < 2; kstep++) {
        Slice<8 * CBV> vs[4];  // tokens 16·kstep + {2r, 2r + 1, 2r + 8, 2r + 9}, pairs [8g, 8g + 8)
#pragma unroll
        for (int u = 0; u < 4; u++) vs[u].load(sb + S_::VCODE + (16 * kstep + 2 * r + (u & 1) + 8 * (u >> 1)) * S_::VROW, 8 * g * CBV);
#pragma unroll
        for (int ct = 0; ct < 8; ct++) {
          const uint32_t y0 = *(const uint32_t*)(lv + vs[0].template code4<CBV>(ct));
          const uint32_t y1 = *(const uint32_t*)(lv + vs[1].template code4<CBV>(ct));
          const uint32_t y8 = *(const uint32_t*)(lv + vs[2].template code4<CBV>(ct));
          const uint32_t y9 = *(const uint32_t*)(lv + vs[3].template code4<CBV>(ct));
          // the grid points as they are: the scales are in P
          mma_full(acc[0][ct], __byte_perm(y0, y1, 0x5410), __byte_perm(y0, y1, 0x7632), __byte_perm(y8, y9, 0x5410),
                   __byte_perm(y8, y9, 0x7632), pb[kstep][0], pb[kstep][1]);
        }
      }
    }
    __syncwarp();
    st = st + 1 == STAGES ? 0 : st + 1;
  }
  asm volatile("cp.async.wait_all;\n" ::: "memory");
  __syncthreads();

  // merge the warps
  float(*sacc)[8][D] = (float(*)[8][D])smem;
  float(*sm)[8] = (float(*)[8])(smem + NW * 8 * D * 4);
  float(*sl)[8] = (float(*)[8])(smem + NW * 8 * D * 4 + NW * 8 * 4);
#pragma unroll
  for (int e = 0; e < 2; e++) {
    l[e] += __shfl_xor_sync(0xffffffffu, l[e], 4);
    l[e] += __shfl_xor_sync(0xffffffffu, l[e], 8);
    l[e] += __shfl_xor_sync(0xffffffffu, l[e], 16);
  }
#pragma unroll
  for (int j = 0; j < NV; j++) {  // one value layer at a time through the shared merge buffer
    if (j) __syncthreads();       // the previous layer's merge has read it
    if constexpr (HP) {
#pragma unroll
      for (int pt = 0; pt < 4; pt++)
#pragma unroll
        for (int i = 0; i < 4; i++) sacc[warp][r][16 * g + 4 * pt + i] = acc[j][pt][i];
      if (g == 0) { sm[warp][r] = m[0]; sl[warp][r] = l[0]; }
    } else {
#pragma unroll
      for (int ct = 0; ct < 8; ct++) {
        const int ch = 2 * (8 * g + ct);
        sacc[warp][2 * r][ch] = acc[j][ct][0];
        sacc[warp][2 * r + 1][ch] = acc[j][ct][1];
        sacc[warp][2 * r][ch + 1] = acc[j][ct][2];
        sacc[warp][2 * r + 1][ch + 1] = acc[j][ct][3];
      }
      if (g == 0) {
        sm[warp][2 * r] = m[0]; sl[warp][2 * r] = l[0];
        sm[warp][2 * r + 1] = m[1]; sl[warp][2 * r + 1] = l[1];
      }
    }
    __syncthreads();
    // NW = 8: threads D .. 2D − 1 take every other head
    constexpr int HSTEP = NW * 32 / D;
    const int d = HSTEP == 1 ? threadIdx.x : threadIdx.x % D;
    for (int h = HSTEP == 1 ? 0 : threadIdx.x / D; h < G; h += HSTEP) {
      float M, L, A;
      merge_warps<NW>(sm, sl, sacc, h, d, M, L, A);
      float* out = partial + (((size_t)b * Hq + kh * G + h) * maxSplits + split) * (2 + NV * D);
      if (d == 0 && j == 0) { out[0] = M; out[1] = L; }
      out[2 + j * D + d] = A;
    }
  }
}

bool cb_ok(int cbK, int cbV) {
  return (cbK == 5 && cbV == 4) || (cbK == 8 && cbV == 8) || (cbK == 6 && cbV == 5) || (cbK == 6 && cbV == 6) ||
         (cbK == 3 && cbV == 3) || (cbK == 4 && cbV == 3) || (cbK == 2 && cbV == 3) || (cbK == 4 && cbV == 4);
}

// The combine of the value-chain kernel: one block of CQ·D threads per (sequence, KV head), for its G ≤ 4
// query heads. Merges the splits as k_split_combine does, giving ŷ_j = A_j / L for each value layer j (in
// the values' Hadamard domain), then out = Σ_j ŷ_j·maps[j][kh] + bias[kh], maps fp32 [NV][Hkv][D][D]
// (row d, column e: out[e] += ŷ[d]·maps[..][d][e]) and bias fp32 [Hkv][D]. An empty sequence gives 0.
// Thread (q, t) = (threadIdx.x / D, threadIdx.x % D) first merges all splits of query head q (q < G) for
// channel t on its own: a split's maximum and sum are the same for the D threads of a head (broadcast
// loads), so the heads need no block reduction and run side by side, and the loads of 8 splits are in
// flight together. Then it adds rows d ∈ [q·D/CQ, (q + 1)·D/CQ) of the maps for output channel t; the CQ
// parts are summed in shared memory. (At batch 1 the grid is only Hkv blocks: a thread that walked all D
// rows, or heads one after another, would wait on hundreds of dependent memory round trips.)
#define CQ 4
template <int NV>
__global__ void __launch_bounds__(CQ* D, 1) k_chain_combine(const float* __restrict__ partial, uint16_t* __restrict__ out,
                                                        int G, int Hkv, int S, const float* __restrict__ maps,
                                                        const float* __restrict__ bias) {
  static_assert(CQ == 4, "one group of D threads per query head (G ≤ 4)");
  constexpr int R = 2 + NV * D, U = 8;
  __shared__ float y[4][NV][D];
  __shared__ float part[CQ][4][D];
  __shared__ bool empty[4];
  const int t = threadIdx.x % D, qd = threadIdx.x / D;
  const int kh = blockIdx.x % Hkv;
  const size_t row0 = (size_t)blockIdx.x * G;  // rows b·Hq + kh·G + h
  KVQ_PDL_WAIT();
  {
    const int h = qd;
    float L = 0.f, A[NV];
#pragma unroll
    for (int j = 0; j < NV; j++) A[j] = 0.f;
    if (h < G) {  // uniform across each warp
      const float* p = partial + (row0 + h) * S * R;
      float M = -INFINITY;
      int s = 0;
      for (; s + U <= S; s += U) {
        float ms[U];
#pragma unroll
        for (int u = 0; u < U; u++) ms[u] = p[(size_t)(s + u) * R];
#pragma unroll
        for (int u = 0; u < U; u++) M = fmaxf(M, ms[u]);
      }
      for (; s < S; s++) M = fmaxf(M, p[(size_t)s * R]);
      if (M != -INFINITY) {
        for (s = 0; s + U <= S; s += U) {
          float ms[U], ls[U], a[U][NV];
#pragma unroll
          for (int u = 0; u < U; u++) {
            const float* q = p + (size_t)(s + u) * R;
            ms[u] = q[0];
            ls[u] = q[1];
#pragma unroll
            for (int j = 0; j < NV; j++) a[u][j] = q[2 + j * D + t];
          }
#pragma unroll
          for (int u = 0; u < U; u++) {
            const float wgt = exp2f(ms[u] - M);
            L = fmaf(ls[u], wgt, L);
#pragma unroll
            for (int j = 0; j < NV; j++) A[j] = fmaf(a[u][j], wgt, A[j]);
          }
        }
        for (; s < S; s++) {
          const float* q = p + (size_t)s * R;
          const float wgt = exp2f(q[0] - M);
          L = fmaf(q[1], wgt, L);
#pragma unroll
          for (int j = 0; j < NV; j++) A[j] = fmaf(q[2 + j * D + t], wgt, A[j]);
        }
      }
    }
#pragma unroll
    for (int j = 0; j < NV; j++) y[h][j][t] = L > 0.f ? A[j] / L : 0.f;
    if (t == 0) empty[h] = !(L > 0.f);
  }
  __syncthreads();
  // out[e] = bias[e] + Σ_j Σ_d y[h][j][d]·maps[j][d][e]: rows d of this thread's quarter, summed in part
  float o[4] = {0.f, 0.f, 0.f, 0.f};
  constexpr int DQ = D / CQ;
#pragma unroll
  for (int j = 0; j < NV; j++) {
    const float* mj = maps + (((size_t)j * Hkv + kh) * D + qd * DQ) * D + t;
#pragma unroll 8
    for (int d = 0; d < DQ; d++) {
      const float m = mj[(size_t)d * D];
#pragma unroll
      for (int h = 0; h < 4; h++) o[h] = fmaf(y[h][j][qd * DQ + d], m, o[h]);
    }
  }
#pragma unroll
  for (int h = 0; h < 4; h++) part[qd][h][t] = o[h];
  __syncthreads();
  if (qd == 0) {
    const float b0 = bias[kh * D + t];
#pragma unroll
    for (int h = 0; h < 4; h++) {
      if (h >= G) break;
      float v = b0;
#pragma unroll
      for (int c = 0; c < CQ; c++) v += part[c][h][t];
      out[(row0 + h) * D + t] = __half_as_ushort(__float2half_rn(empty[h] ? 0.f : v));
    }
  }
}
#undef CQ

// The stage bytes of an 8-warp block that leave room, within 48 KB of static shared memory, for the
// kernel's other arrays (rotated queries, tables: under 6 KB for G ≤ 4 and NK = 1).
constexpr int WIDE_SMEM = 42 * 1024;
// The 8-warp kernel of widths K_/V_ and its block size, where the widths have one and the grid of `blocks`
// blocks is at most 2 per SM (else k and threads unchanged). Returns the error of a failed device query.
template <int K_, int V_, class Kernel>
cudaError_t pick_wide(long long blocks, Kernel& k, int& threads) {
  if constexpr (HStage<K_, V_, 1, 1, 8>::SMEM <= WIDE_SMEM) {
    int sms = 0;
    const cudaError_t e = kvq_sm_count(&sms);
    if (e != cudaSuccess) return e;
    if (blocks <= 2LL * sms) {
      k = k_decode_higgs_mma<K_, V_, true, 1, 1, 8>;
      threads = 256;
    }
  }
  return cudaSuccess;
}

bool chain_cb_ok(int cbK, int cbV) {
  return (cbK == 5 && cbV == 4) || (cbK == 3 && cbV == 3) || (cbK == 6 && cbV == 5) || (cbK == 4 && cbV == 4);
}

}  // namespace

extern "C" int kvq_decode_attn_higgs_ok(int G, int P, int cbK, int cbV) {
  return G >= 1 && G <= 8 && P > 0 && P % TCH == 0 && cb_ok(cbK, cbV);
}

extern "C" int kvq_decode_attn_higgs(const uint16_t* q, const uint8_t* pool, const int* pageTable, const int* lens,
                                     uint16_t* out, float* partial, int B, int Hq, int Hkv, int maxPages, int P,
                                     int splitPages, float scale, int cbK, int cbV, const float* lutK,
                                     const float* lutV, const float* signsK, const float* signsV) {
  const int G = Hkv > 0 ? Hq / Hkv : 0;
  if (Hkv <= 0 || Hq != G * Hkv || !kvq_decode_attn_higgs_ok(G, P, cbK, cbV) || splitPages <= 0 || B <= 0 ||
      maxPages <= 0)
    return (int)cudaErrorInvalidValue;
  const int S = (maxPages + splitPages - 1) / splitPages;
  const size_t C = (size_t)Hkv * D;
  const size_t keyBytes = 2 * (size_t)P * Hkv + (size_t)P * C * cbK / 16;
  const size_t pageBytes = keyBytes + 2 * (size_t)P * Hkv + (size_t)P * C * cbV / 16;
  const float sl = scale * 1.4426950408889634f;
  dim3 grid(S * Hkv, 1, B);  // KV heads fastest: see the kernel
#define KVQ_H(K_, V_)                                                                                           \
  if (cbK == K_ && cbV == V_) {                                                                                 \
    auto k_ = G <= 4 ? k_decode_higgs_mma<K_, V_, true> : k_decode_higgs_mma<K_, V_, false>;               \
    int threads = 32 * NWARP;                                                                                   \
    /* 8 warps per block (head pairs, widths whose stages fit) where the grid is at most 2 blocks per SM */   \
    if (G <= 4) KVQ_CUDA_TRY((pick_wide<K_, V_>((long long)grid.x * B, k_, threads)));                        \
    k_<<<grid, threads>>>(q, pool, pageTable, lens, partial, G, Hq, Hkv, maxPages, P, splitPages, S, sl, keyBytes, \
                          pageBytes, (const float2*)lutK, (const float2*)lutV, signsK, pow_div(P), ValueChain{}); \
  } else
  KVQ_H(5, 4) KVQ_H(8, 8) KVQ_H(6, 5) KVQ_H(6, 6) KVQ_H(3, 3) KVQ_H(4, 3) KVQ_H(2, 3) KVQ_H(4, 4) {
    return (int)cudaErrorInvalidValue;
  }
#undef KVQ_H
  KVQ_LAUNCHED();
  return launch_split_combine<D, true>(partial, out, B * Hq, S, signsV);
}

extern "C" int kvq_decode_attn_higgs_chain_ok(int G, int P, int cbK, int cbV, int NV) {
  return G >= 1 && G <= 4 && P > 0 && P % TCH == 0 && chain_cb_ok(cbK, cbV) && NV >= 2 && NV <= MAXNV;
}

extern "C" int kvq_decode_attn_higgs_chain(const uint16_t* q, const uint8_t* pool, const uint8_t* const* chain, int NV,
                                           const int* pageTable, const int* lens, uint16_t* out, float* partial, int B,
                                           int Hq, int Hkv, int maxPages, int P, int splitPages, float scale, int cbK,
                                           int cbV, const float* lutK, const float* lutV, const float* signsK,
                                           const float* maps, const float* bias, const float* keyFold,
                                           const int* keyPartner) {
  const int G = Hkv > 0 ? Hq / Hkv : 0;
  if (Hkv <= 0 || Hq != G * Hkv || !kvq_decode_attn_higgs_chain_ok(G, P, cbK, cbV, NV) || splitPages <= 0 ||
      B <= 0 || maxPages <= 0 || !chain)
    return (int)cudaErrorInvalidValue;
  ValueChain vc{};
  const bool keyChain = keyFold != nullptr;
  if (keyChain != (keyPartner != nullptr)) return (int)cudaErrorInvalidValue;
  vc.keyFold = keyFold;
  vc.keyPartner = keyPartner;
  for (int j = 1; j < NV; j++) {
    if (!chain[j - 1]) return (int)cudaErrorInvalidValue;
    vc.pool[j - 1] = chain[j - 1];
  }
  const int S = (maxPages + splitPages - 1) / splitPages;
  const size_t C = (size_t)Hkv * D;
  const size_t keyBytes = 2 * (size_t)P * Hkv + (size_t)P * C * cbK / 16;
  const size_t pageBytes = keyBytes + 2 * (size_t)P * Hkv + (size_t)P * C * cbV / 16;
  const float sl = scale * 1.4426950408889634f;
  dim3 grid(S * Hkv, 1, B);
  cudaError_t e = cudaSuccess;
#define KVQ_HC(K_, V_, N_, NK_)                                                                                   \
  if (cbK == K_ && cbV == V_ && NV == N_ && keyChain == (NK_ > 1)) {                                               \
    auto k_ = k_decode_higgs_mma<K_, V_, true, N_, NK_>;                                                          \
    constexpr int bytes = HStage<K_, V_, N_, NK_>::SMEM;                                                    \
    static DynSmemLimit smem_;                                                                                    \
    KVQ_CUDA_TRY(smem_.ensure(k_, bytes));                                                                        \
    k_<<<grid, 128, bytes>>>(q, pool, pageTable, lens, partial, G, Hq, Hkv, maxPages, P, splitPages, S, sl,       \
                             keyBytes, pageBytes, (const float2*)lutK, (const float2*)lutV, signsK, pow_div(P), vc); \
  } else
#define KVQ_HC3(K_, V_) \
  KVQ_HC(K_, V_, 2, 1) KVQ_HC(K_, V_, 3, 1) KVQ_HC(K_, V_, 4, 1) KVQ_HC(K_, V_, 2, 2) KVQ_HC(K_, V_, 3, 3) KVQ_HC(K_, V_, 4, 4)
  KVQ_HC3(5, 4) KVQ_HC3(3, 3) KVQ_HC3(6, 5) KVQ_HC3(4, 4) { return (int)cudaErrorInvalidValue; }
#undef KVQ_HC3
#undef KVQ_HC
  KVQ_LAUNCHED();
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(B * Hkv);
  cfg.blockDim = dim3(4 * D);  // CQ · D
  cudaLaunchAttribute attr[1];
  int pdl = 0;
  if ((e = pdl_attribute(attr, &pdl)) != cudaSuccess) return (int)e;
  cfg.attrs = attr;
  cfg.numAttrs = pdl;
  switch (NV) {
    case 2: return (int)cudaLaunchKernelEx(&cfg, k_chain_combine<2>, partial, out, G, Hkv, S, maps, bias);
    case 3: return (int)cudaLaunchKernelEx(&cfg, k_chain_combine<3>, partial, out, G, Hkv, S, maps, bias);
    default: return (int)cudaLaunchKernelEx(&cfg, k_chain_combine<4>, partial, out, G, Hkv, S, maps, bias);
  }
}
