// Token → page arithmetic of the paged decode kernels: a shift and a mask when the divisor is a power
// of two (the usual page and group sizes; integer division costs dozens of instructions), else division.
#pragma once

struct PowDiv {
  int n, shift;  // shift = log2(n) when n is a power of two, else -1
  __device__ __forceinline__ int div(int t) const { return shift >= 0 ? t >> shift : t / n; }
  __device__ __forceinline__ int mod(int t) const { return shift >= 0 ? t & (n - 1) : t - (t / n) * n; }
};

inline PowDiv pow_div(int n) {
  int s = 0;
  while ((1 << s) < n) s++;
  return PowDiv{n, (1 << s) == n ? s : -1};
}
