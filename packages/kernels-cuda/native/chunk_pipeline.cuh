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

}  // namespace kvq
