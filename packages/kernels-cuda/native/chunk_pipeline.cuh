// A warp's cp.async pipeline over its chunks of a paged sequence, shared by the uniform and HIGGS
// tensor-core decode-attention kernels.
#pragma once
#include "mma_sync.cuh"
#include "paged.cuh"

namespace kvq {

// STAGES − 1 chunks are in flight ahead of the one being computed. issue(t, page, stage) starts the copies
// of the chunk at token t (in page `page`) into staging slot `stage`; next(t) is the warp's chunk after t;
// pageRow is the sequence's row of the page table. start() and every step() commit one cp.async group
// (empty past `end`), so cp_async_wait<STAGES − 1>() after a step leaves the current chunk's copies done.
// The page index of the chunk after the next one is loaded a step ahead as well.
template <int STAGES>
struct ChunkPipeline {
  int t = 0, stage = 0, page = 0;  // the next chunk to issue, its staging slot and its page
  template <class Issue, class Next>
  __device__ __forceinline__ void start(int first, int end, const int* pageRow, PowDiv pd, Issue issue, Next next) {
    t = first;
#pragma unroll
    for (int i = 0; i + 1 < STAGES; i++) {
      if (t < end) issue(t, pageRow[pd.div(t)], stage);
      cp_async_commit();
      t = next(t);
      stage++;
    }
    if (t < end) page = pageRow[pd.div(t)];
  }
  template <class Issue, class Next>
  __device__ __forceinline__ void step(int end, const int* pageRow, PowDiv pd, Issue issue, Next next) {
    if (t < end) {
      const int pn = page;
      const int tn = next(t);
      if (tn < end) page = pageRow[pd.div(tn)];
      issue(t, pn, stage);
    }
    cp_async_commit();
    t = next(t);
    stage = stage + 1 == STAGES ? 0 : stage + 1;
  }
};

// A warp's copies of ROWS rows of ROW bytes each (rows `srcStride` bytes apart in global memory, packed
// one after another in shared memory), in W-byte cp.async pieces (16 where ROW allows, else 8), consecutive
// lanes on consecutive pieces of a row. Each lane's piece offsets (source and destination) are computed
// once, in init(), so that issuing a chunk's copies costs one 64-bit add per piece instead of the
// row/column arithmetic (64-bit multiplies) of every piece in every chunk.
// RowOf (optional): the source row whose bytes go to destination row slot s, RowOf::row(s), a permutation of
// [0, ROWS); shared memory is still written piece after piece (the same destination offsets), only the source
// rows are taken in another order. The default, RowIdentity, is the plain copy.
struct RowIdentity {
  __device__ __forceinline__ static int row(int s) { return s; }
};
template <int ROWS, int ROW, class RowOf = RowIdentity>
struct RowCopies {
  static constexpr int W = ROW % 16 == 0 ? 16 : 8;
  static constexpr int N = ROWS * ROW / W / 32;  // pieces per lane
  static_assert(ROW % 8 == 0 && (ROWS * ROW) % (32 * W) == 0, "RowCopies: whole 8-byte pieces, a multiple of 32");
  uint32_t src[N], dst[N];
  __device__ __forceinline__ void init(int lane, uint32_t srcStride) {
#pragma unroll
    for (int i = 0; i < N; i++) {
      const int x = lane + 32 * i, row = x / (ROW / W), col = x % (ROW / W);
      src[i] = RowOf::row(row) * srcStride + col * W;
      dst[i] = row * ROW + col * W;
    }
  }
  // rows from gsrc (the first row's first byte) into sdst
  __device__ __forceinline__ void issue(uint8_t* sdst, const uint8_t* gsrc) const {
#pragma unroll
    for (int i = 0; i < N; i++) {
      if constexpr (W == 16)
        cp_async16(sdst + dst[i], gsrc + src[i]);
      else
        cp_async8(sdst + dst[i], gsrc + src[i]);
    }
  }
};

}  // namespace kvq
