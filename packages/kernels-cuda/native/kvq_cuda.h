// Plain C ABI of the kvq CUDA kernels (no Node headers here; no CUDA headers in addon.cc).
// Every function returns a cudaError_t value (0 = success); pointers are device pointers.
#pragma once
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
const char* kvq_error_string(int code);
const char* kvq_error_name(int code);
int kvq_driver_version(int* version);
int kvq_device_count(int* count);
int kvq_device_props(int dev, char* name, int nameLen, int* major, int* minor, int* sms, size_t* totalMem);
int kvq_set_device(int dev);
int kvq_mem_info(size_t* freeBytes, size_t* totalBytes);
int kvq_malloc(void** p, size_t bytes);
int kvq_free(void* p);
int kvq_h2d(void* dst, const void* src, size_t bytes);
int kvq_d2h(void* dst, const void* src, size_t bytes);
int kvq_d2d(void* dst, const void* src, size_t bytes);
// strided device-to-device copy (cudaMemcpy2D): `height` rows of `width` bytes, row pitches in bytes
int kvq_d2d_2d(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height);
int kvq_memset(void* p, int value, size_t bytes);
int kvq_sync(void);
// timing: runs nothing itself; event pair around a region on the default stream
int kvq_event_begin(int busyNs);
int kvq_event_end(float* ms);

// quantizers (block [T, C], token-major)
int kvq_fp16_encode(const float* x, uint16_t* out, size_t n, int bf16);
int kvq_fp16_decode(const uint16_t* in, float* out, size_t n, int bf16);
int kvq_fp8_encode(const float* x, uint8_t* out, size_t n);
int kvq_fp8_decode(const uint8_t* in, float* out, size_t n);
// uniform: out = [scales fp16 × G][mins fp16 × G][packed codes]; scratch = T·C bytes
int kvq_uniform_encode(const float* x, uint8_t* out, uint8_t* scratch, int T, int C, int bits, int axisToken, int gs);
int kvq_uniform_decode(const uint8_t* in, float* out, int T, int C, int bits, int axisToken, int gs);
// same, fp32 in/out of n values with fp16 in between, for the bandwidth benchmark: x (fp16) -> block
int kvq_uniform_encode_h(const uint16_t* x, uint8_t* out, int T, int C, int bits, int axisToken, int gs);
int kvq_uniform_decode_h(const uint8_t* in, uint16_t* out, int T, int C, int bits, int axisToken, int gs);
// higgs (FORMAT.md): out = [scales fp16 × T·C/B][packed codes]; codes = scratch of T·C (dim 1) or
// T·C/2 (dim 2) u16; table = levels (dim 1, tableLen levels) or interleaved 2-D points (tableLen
// points); mids = level midpoints (fp64, dim 1; may be null for dim 2); signs = B signs; norm =
// fp32(1/sqrt(B)); err is set to 1 when a scale is outside the fp16 range
int kvq_higgs_max_block(void);
int kvq_higgs_encode(const float* x, uint8_t* out, uint16_t* codes, int T, int C, int B, int dim, int codeBits,
                     const float* table, int tableLen, const double* mids, const float* signs, float norm,
                     double gain, int zeroCode, int* err);
int kvq_higgs_decode(const uint8_t* in, float* out, int T, int C, int B, int dim, int codeBits, const float* table,
                     const float* signs, float norm);
// codebook (FORMAT.md): out = [scales fp16 × G]([means fp16 × G])[packed codes]; norm 0 absmax, 1 rms,
// 2 meanrms; mids = the 2^bits − 1 level midpoints (fp64); codes = scratch of T·C u16
int kvq_codebook_encode(const float* x, uint8_t* out, uint16_t* codes, int T, int C, int bits, int axisToken, int gs,
                        int norm, const double* mids, int zeroCode, int* err);
int kvq_codebook_decode(const uint8_t* in, float* out, int T, int C, int bits, int axisToken, int gs, int norm,
                        const float* levels);
// outliers (FORMAT.md): writes [values fp16 × N][indices u16 × N] at out and, in work, a copy of x with
// the outlier positions set to 0 for the inner quantizer; scatter writes the values back after the
// inner decode; k ≤ kvq_outliers_kmax()
int kvq_outliers_kmax(void);
int kvq_outliers_select(const float* x, uint8_t* out, float* work, int T, int C, int axisToken, int k, int* err);
int kvq_outliers_scatter(const uint8_t* in, float* out, int T, int C, int axisToken, int k);

// dense fp32 ops
int kvq_linear(const float* x, const float* w, const float* bias, float* y, int rows, int inDim, int outDim);
int kvq_rmsnorm(const float* x, const float* w, float* y, int rows, int dim, float eps);
int kvq_rope(const float* x, float* y, const int* pos, int tokens, int heads, int headDim, int dims,
             float theta, float scale, int neox, int inverse);
int kvq_swiglu(const float* g, const float* u, float* y, size_t n);
// causal GQA attention, fp32: q [Q, Hq, D], k/v [N, Hkv, D]; query i sees keys ≤ qStart + i
int kvq_attention_f32(const float* q, const float* k, const float* v, float* out, int Q, int Hq, int Hkv,
                      int D, int N, int qStart, float scale);

// decode attention over paged caches (one query token per sequence; Hq = 32·? any multiple of Hkv; D = 128)
// pages: page table [B, maxPages] of page indices; lens [B]; pool of pages, each page holds P tokens of
// all Hkv heads: fp16 page = K [P, Hkv, D] then V [P, Hkv, D].
// impl as for uniform pages: 0 = tensor-core kernel where it applies (kvq_decode_attn_f16_mma_ok), 1 = the
// first (CUDA-core) kernel, 2 = tensor-core kernel
int kvq_decode_attn_f16(const uint16_t* q, const uint16_t* pool, const int* pageTable, const int* lens,
                        uint16_t* out, float* partial, int B, int Hq, int Hkv, int maxPages, int P,
                        int splitPages, float scale, int impl);
int kvq_decode_attn_f16_mma_ok(int G, int P);
int kvq_launch_decode_f16_mma(const uint16_t* q, const uint16_t* pool, const int* pageTable, const int* lens,
                              float* partial, int B, int Hq, int Hkv, int maxPages, int P, int splitPages,
                              int maxSplits, float scaleLog2);
// uniform page: keys as a uniform block [P, Hkv·D] axis 'channel' (group gsK tokens), values as a
// uniform block axis 'token' (group gsV channels), bitsK/bitsV; page bytes = keyBytes + valueBytes
int kvq_decode_attn_uniform(const uint16_t* q, const uint8_t* pool, const int* pageTable, const int* lens,
                            uint16_t* out, float* partial, int B, int Hq, int Hkv, int maxPages, int P,
                            int splitPages, float scale, int bitsK, int gsK, int bitsV, int gsV, int impl);
// impl: 0 = tensor-core kernel where it applies (kvq_decode_attn_uniform_mma_ok), else scalar;
// 1 = scalar kernel; 2 = tensor-core kernel (cudaErrorInvalidValue where it does not apply)
int kvq_decode_attn_uniform_mma_ok(int G, int P, int gsK, int bitsK, int gsV, int bitsV);
int kvq_launch_decode_uniform_mma(const uint16_t* q, const uint8_t* pool, const int* pageTable, const int* lens,
                                  float* partial, int B, int Hq, int Hkv, int maxPages, int P, int splitPages,
                                  int maxSplits, float scaleLog2, int bitsK, int gsK, int bitsV, int gsV,
                                  size_t keyBytes, size_t pageBytes);
size_t kvq_uniform_bytes(int T, int C, int bits, int axisToken, int gs);
// HIGGS page (FORMAT.md "higgs", Hadamard block = D = 128): keys then values, each a HIGGS block
// [P, Hkv·D]: fp16 scales [P·Hkv] then codes; cbK/cbV = bits per pair code (2-D grid: 2·bits; 1-D: two
// bits-wide levels, LSB first); lutK/lutV = 2^cb float2 points (x, y) of each pair code; signsK/V = the
// blocks' 128 seeded signs. Supported (cbK, cbV): kvq_decode_attn_higgs_ok.
int kvq_decode_attn_higgs_ok(int G, int P, int cbK, int cbV);
int kvq_decode_attn_higgs(const uint16_t* q, const uint8_t* pool, const int* pageTable, const int* lens,
                          uint16_t* out, float* partial, int B, int Hq, int Hkv, int maxPages, int P,
                          int splitPages, float scale, int cbK, int cbV, const float* lutK, const float* lutV,
                          const float* signsK, const float* signsV);
// Value chains (HIGGS pages, G ≤ 4): the scores of `pool`'s keys weight the values of NV ∈ [2, 4] layers —
// `pool`'s own and chain[0 .. NV − 2] (host array of device pool pointers, pages of the same geometry under the
// same page table) — each summed apart, and out = Σ_j ŷ_j·maps[j][kh] + bias[kh] with ŷ_j the softmax-weighted
// mean of layer j's values in their Hadamard domain: maps fp32 [NV][Hkv][128][128] (rotation back and the
// value predictors folded in), bias fp32 [Hkv][128]. partial: [B·Hq, splits, 2 + NV·128] fp32.
// keyFold / keyPartner (both null, or both set: a key chain): the scores add the keys of layers 1 .. NV − 1
// of the chain against the query folded per layer and KV head, q'[d] = A·q[d] + B·q[keyPartner[d]] with
// keyFold fp32 [NV − 1][Hkv][128][2] = (A, B) and keyPartner int32 [128].
int kvq_decode_attn_higgs_chain_ok(int G, int P, int cbK, int cbV, int NV);
int kvq_decode_attn_higgs_chain(const uint16_t* q, const uint8_t* pool, const uint8_t* const* chain, int NV,
                                const int* pageTable, const int* lens, uint16_t* out, float* partial, int B, int Hq,
                                int Hkv, int maxPages, int P, int splitPages, float scale, int cbK, int cbV,
                                const float* lutK, const float* lutV, const float* signsK, const float* maps,
                                const float* bias, const float* keyFold, const int* keyPartner);
#ifdef __cplusplus
}
#endif
