// Bit packing shared by the quantizer kernels: codes of `bits` bits, LSB first, contiguous across
// bytes (core's bitpack.ts, FORMAT.md "Common rules").
#pragma once
#include <stddef.h>
#include <stdint.h>

// code `idx` of a packed region of `nbytes` bytes
__device__ __forceinline__ uint32_t kvq_unpack_code(const uint8_t* p, size_t nbytes, size_t idx, int bits) {
  const size_t o = idx * (size_t)bits, byte = o >> 3;
  uint32_t v = p[byte];
  if (byte + 1 < nbytes) v |= (uint32_t)p[byte + 1] << 8;
  if (byte + 2 < nbytes) v |= (uint32_t)p[byte + 2] << 16;
  return (v >> (o & 7)) & ((1u << bits) - 1u);
}

// one output byte per thread: out[byte] = the bits [8·byte, 8·byte + 8) of the code stream
static __global__ void kvq_pack_kernel(const uint16_t* codes, uint8_t* out, size_t n, int bits, size_t nbytes) {
  const size_t byte = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (byte >= nbytes) return;
  const size_t b0 = byte * 8, b1 = b0 + 8;
  uint32_t acc = 0;
  for (size_t i = b0 / bits; i < n && i * bits < b1; i++) {
    const long long shift = (long long)(i * bits) - (long long)b0;  // may be negative for the first code
    const uint32_t c = codes[i];
    acc |= shift >= 0 ? (c << shift) : (c >> (-shift));
  }
  out[byte] = (uint8_t)acc;
}

static inline int kvq_pack(const uint16_t* codes, uint8_t* out, size_t n, int bits) {
  const size_t nbytes = (n * (size_t)bits + 7) / 8;
  if (nbytes == 0) return 0;
  kvq_pack_kernel<<<(unsigned)((nbytes + 255) / 256), 256>>>(codes, out, n, bits, nbytes);
  return (int)cudaGetLastError();
}
