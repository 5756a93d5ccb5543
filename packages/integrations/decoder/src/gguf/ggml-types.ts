/**
 * ggml tensor types that GGUF files use, with their block geometry (values per block, bytes per
 * block). Only the types this package dequantizes are listed as supported; the others are named so
 * that an error can say which type a file uses.
 */
export const GGML_TYPE = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
} as const;

/** Name of a ggml type id (`"type 99"` when unknown). */
export function ggmlTypeName(type: number): string {
  for (const [name, id] of Object.entries(GGML_TYPE)) if (id === type) return name;
  return `type ${type}`;
}

/** Block geometry of the types this package reads. */
export interface GgmlBlock {
  /** values per block */
  readonly values: number;
  /** bytes per block */
  readonly bytes: number;
}

/** Geometry of the types this package can dequantize. */
export const SUPPORTED_BLOCKS: ReadonlyMap<number, GgmlBlock> = new Map<number, GgmlBlock>([
  [GGML_TYPE.F32, { values: 1, bytes: 4 }],
  [GGML_TYPE.F16, { values: 1, bytes: 2 }],
  [GGML_TYPE.BF16, { values: 1, bytes: 2 }],
  [GGML_TYPE.Q8_0, { values: 32, bytes: 34 }],
  [GGML_TYPE.Q4_K, { values: 256, bytes: 144 }],
  [GGML_TYPE.Q6_K, { values: 256, bytes: 210 }],
]);
