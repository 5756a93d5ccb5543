import { readFileSync } from 'node:fs';
import { SeededRandom } from '@kvq/core';
import { describe, expect, it } from 'vitest';
import {
  GGML_TYPE,
  GgufFile,
  dequantBF16,
  dequantF16,
  dequantQ4_K,
  dequantQ6_K,
  dequantQ8_0,
  halfTable,
} from '../src/index.js';
import { REF_F16, REF_Q8 } from './helpers/paths.js';

const le16 = (v: number) => [v & 0xff, v >> 8];

describe('dequantization', () => {
  it('F16: known bit patterns', () => {
    const patterns = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x3555, 0x8000, 0x7c00, 0xfc00];
    const expected = [
      1,
      -2,
      65504,
      2 ** -24,
      2 ** -14,
      0.333251953125,
      -0,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ];
    const out = dequantF16(
      new Uint8Array(patterns.flatMap(le16)),
      patterns.length,
      new Float32Array(patterns.length),
    );
    expect(Array.from(out)).toEqual(expected);
    expect(Number.isNaN(halfTable()[0x7e00])).toBe(true);
  });

  it('BF16: known bit patterns', () => {
    const patterns = [0x3f80, 0xc040, 0x4049];
    const out = dequantBF16(new Uint8Array(patterns.flatMap(le16)), 3, new Float32Array(3));
    expect(Array.from(out)).toEqual([1, -3, 3.140625]);
  });

  it('Q8_0: d · q per 32-value block', () => {
    const bytes = new Uint8Array(68);
    bytes.set(le16(0x3800), 0); // d = 0.5
    for (let i = 0; i < 32; i++) bytes[2 + i] = (i - 16) & 0xff;
    bytes.set(le16(0xc000), 34); // d = -2
    bytes[36] = 127;
    bytes[37] = 0x80; // -128
    const out = dequantQ8_0(bytes, 64, new Float32Array(64));
    for (let i = 0; i < 32; i++) expect(out[i]).toBe((i - 16) * 0.5);
    expect(out[32]).toBe(-254);
    expect(out[33]).toBe(256);
    expect(out[34]).toBe(-0);
  });

  it('Q4_K: 6-bit scales/mins of all 8 sub-blocks, low then high nibbles', () => {
    const b = new Uint8Array(144);
    b.set(le16(0x3c00), 0); // d = 1
    b.set(le16(0x3800), 2); // dmin = 0.5
    // sub-blocks 0..3: scale = scales[j] & 63, min = scales[j+4] & 63
    const sc = [1, 2, 3, 4];
    const mn = [5, 6, 7, 8];
    // sub-blocks 4..7: scale = (scales[j+4] & 15) | (scales[j-4] >> 6) << 4, min = (scales[j+4] >> 4) | (scales[j] >> 6) << 4
    const sc2 = [17, 34, 9, 63]; // needs high bits: 17 = 1 | 1<<4, 34 = 2 | 2<<4, 9 = 9 | 0, 63 = 15 | 3<<4
    const mn2 = [16, 1, 50, 3]; // 16 = 0 | 1<<4, 1 = 1, 50 = 2 | 3<<4, 3 = 3
    for (let j = 0; j < 4; j++) {
      b[4 + j] = sc[j]! | ((sc2[j]! >> 4) << 6);
      b[4 + j + 4] = mn[j]! | ((mn2[j]! >> 4) << 6);
      b[4 + j + 8] = (sc2[j]! & 15) | ((mn2[j]! & 15) << 4);
    }
    // byte l of each 32-byte group g: low nibble = l % 16, high nibble = 15 - l % 16
    for (let g = 0; g < 4; g++)
      for (let l = 0; l < 32; l++) b[16 + g * 32 + l] = (l % 16) | ((15 - (l % 16)) << 4);
    const out = dequantQ4_K(b, 256, new Float32Array(256));
    const scales = [...sc, ...sc2];
    const mins = [...mn, ...mn2];
    for (let s = 0; s < 8; s++) {
      for (let l = 0; l < 32; l++) {
        const q = s % 2 === 0 ? l % 16 : 15 - (l % 16);
        expect(out[s * 32 + l], `sub-block ${s} value ${l}`).toBe(scales[s]! * q - 0.5 * mins[s]!);
      }
    }
  });

  it('Q6_K: 4+2-bit codes with signed 8-bit scales per 16 values', () => {
    const b = new Uint8Array(210);
    b.set(le16(0x3800), 208); // d = 0.5
    const scales = Array.from({ length: 16 }, (_, i) => (i % 2 ? -(i + 1) : i + 1));
    scales.forEach((s, i) => {
      b[192 + i] = s & 0xff;
    });
    // value v in [0,256): half = v>>7, r = v & 127, quarter = r >> 5, l = r & 31.
    // code q6 = (v * 7) % 64, stored as low 4 bits in ql and high 2 bits in qh.
    const q6 = (v: number) => (v * 7) % 64;
    for (let v = 0; v < 256; v++) {
      const half = v >> 7;
      const r = v & 127;
      const quarter = r >> 5;
      const l = r & 31;
      const qlIndex = half * 64 + l + (quarter & 1) * 32;
      const lowShift = quarter >= 2 ? 4 : 0;
      b[qlIndex] |= (q6(v) & 15) << lowShift;
      b[128 + half * 32 + l] |= (q6(v) >> 4) << (2 * quarter);
    }
    const out = dequantQ6_K(b, 256, new Float32Array(256));
    for (let v = 0; v < 256; v++) expect(out[v], `value ${v}`).toBe(0.5 * scales[v >> 4]! * (q6(v) - 32));
  });

  it('Q8_0 weights of kvq-ref-35M are within half a quantization step of the f16 weights', () => {
    const f16 = GgufFile.parse(readFileSync(REF_F16), 'f16');
    const q8 = GgufFile.parse(readFileSync(REF_Q8), 'q8');
    const rng = new SeededRandom(7);
    const names = q8.tensorNames().filter((n) => q8.info(n).type === GGML_TYPE.Q8_0);
    expect(names.length).toBeGreaterThan(50);
    for (let k = 0; k < 4; k++) {
      const name = names[Math.floor(rng.next() * names.length)]!;
      const a = f16.tensor(name).data;
      const b = q8.tensor(name).data;
      let worst = 0;
      for (let blk = 0; blk < a.length / 32; blk++) {
        let amax = 0;
        for (let i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(a[blk * 32 + i]!));
        // gguf-py rounds x / d with d = amax / 127 in fp32, then stores d as fp16 (relative error
        // ≤ 2^-11), so |x − fp16(d)·q| ≤ d/2 + 127·d·2^-11.
        const bound = (amax / 127) * (0.5 + 127 * 2 ** -11) + 1e-7;
        for (let i = 0; i < 32; i++)
          worst = Math.max(worst, Math.abs(a[blk * 32 + i]! - b[blk * 32 + i]!) / bound);
      }
      expect(worst, name).toBeLessThanOrEqual(1);
      expect(worst, name).toBeGreaterThan(0.3);
    }
  });
});
