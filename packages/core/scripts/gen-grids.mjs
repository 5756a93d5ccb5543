#!/usr/bin/env node
/**
 * Generates src/quantizers/grids.generated.ts: grids optimal for N(0,1), used by the codebook and
 * HIGGS quantizers, so nothing is fitted at run time.
 *
 * - Scalar: Lloyd-Max levels of N(0,1) for 1..8 bits, by Lloyd's iteration on the exact density
 *   (centroid of [a, b] = (φ(a) − φ(b)) / (Φ(b) − Φ(a))), started from the Panter–Dite
 *   companding levels, run until no level moves more than 1e-13 (1..6 bits) or for the 200 000
 *   iteration cap (7, 8 bits: last moves 1e-9 and 5e-10, far below fp32 resolution).
 *   MSE in closed form: 1 − Σ P_i·L_i².
 * - 2-D: k-means on seeded N(0,1)² samples (mulberry32 + Box–Muller, as SeededRandom in
 *   src/random.ts; k-means++ seeding, several restarts, the best kept), then polished by Lloyd
 *   iterations on a midpoint quadrature of the N(0,1)² density (512² cells on [−5.5, 5.5]²),
 *   for 2^(2·bits) points, bits ∈ {1, 1.5, 2, 2.5, 3}. MSE per dimension from that quadrature.
 *
 * Usage (from packages/core): node scripts/gen-grids.mjs && pnpm exec biome format --write src/quantizers/grids.generated.ts
 * (writes the file; takes about a minute; the committed file is the biome-formatted output)
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// ---------- N(0,1) density and distribution ----------
const SQRT2 = Math.SQRT2;
const phi = (x) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);

/** erfc(x) for x ≥ 0: series for x < 3 (via erf), Lentz continued fraction above. */
function erfcPos(x) {
  if (x < 3) {
    // erf(x) = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))) (modified Lentz)
  const tiny = 1e-300;
  let f = x;
  let C = x;
  let D = 0;
  for (let n = 1; n < 500; n++) {
    const an = n / 2;
    D = x + an * D;
    if (D === 0) D = tiny;
    C = x + an / C;
    if (C === 0) C = tiny;
    D = 1 / D;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}
/** Φ(x), with tails accurate to relative precision. */
function Phi(x) {
  if (x === Number.POSITIVE_INFINITY) return 1;
  if (x === Number.NEGATIVE_INFINITY) return 0;
  return x < 0 ? 0.5 * erfcPos(-x / SQRT2) : 1 - 0.5 * erfcPos(x / SQRT2);
}
/** P(a < X < b), computed in the tail that keeps precision. */
function prob(a, b) {
  if (a >= 0) return 0.5 * (erfcPos(a / SQRT2) - (b === Number.POSITIVE_INFINITY ? 0 : erfcPos(b / SQRT2)));
  if (b <= 0) return 0.5 * (erfcPos(-b / SQRT2) - (a === Number.NEGATIVE_INFINITY ? 0 : erfcPos(-a / SQRT2)));
  return Phi(b) - Phi(a);
}
function invPhi(p) {
  let lo = -40;
  let hi = 40;
  for (let i = 0; i < 200; i++) {
    const m = 0.5 * (lo + hi);
    if (Phi(m) < p) lo = m;
    else hi = m;
  }
  return 0.5 * (lo + hi);
}

// ---------- scalar Lloyd-Max ----------
function lloydMax(bits) {
  const N = 2 ** bits;
  // Panter–Dite: level density ∝ φ^(1/3), i.e. N(0, 3) quantiles
  const L = Array.from({ length: N }, (_, i) => Math.sqrt(3) * invPhi((i + 0.5) / N));
  let iters = 0;
  let lastMove = 0;
  for (let it = 0; it < 200_000; it++) {
    iters = it + 1;
    const t = [Number.NEGATIVE_INFINITY];
    for (let i = 0; i + 1 < N; i++) t.push(0.5 * (L[i] + L[i + 1]));
    t.push(Number.POSITIVE_INFINITY);
    let move = 0;
    const next = L.map((_, i) => {
      const a = t[i];
      const b = t[i + 1];
      const c =
        (phi(a === Number.NEGATIVE_INFINITY ? 1e9 : a) * (a === Number.NEGATIVE_INFINITY ? 0 : 1) -
          (b === Number.POSITIVE_INFINITY ? 0 : phi(b))) /
        prob(a, b);
      return c;
    });
    for (let i = 0; i < N; i++) move = Math.max(move, Math.abs(next[i] - L[i]));
    // symmetrize (the optimum is symmetric; this removes rounding drift)
    for (let i = 0; i < N; i++) L[i] = 0.5 * (next[i] - next[N - 1 - i]);
    lastMove = move;
    if (move < 1e-13) break;
  }
  const t = [Number.NEGATIVE_INFINITY];
  for (let i = 0; i + 1 < N; i++) t.push(0.5 * (L[i] + L[i + 1]));
  t.push(Number.POSITIVE_INFINITY);
  let mse = 1;
  for (let i = 0; i < N; i++) mse -= prob(t[i], t[i + 1]) * L[i] * L[i];
  return { levels: L, mse, iters, lastMove };
}

// ---------- seeded N(0,1) samples, exactly as SeededRandom ----------
function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
function normals(seed, n) {
  const next = mulberry32(seed);
  const uni = () => next() / 4294967296;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    let u = 0;
    while (u === 0) u = uni();
    const v = uni();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

// ---------- weighted 2-D k-means ----------
function assignAndUpdate(px, py, w, cx, cy) {
  const K = cx.length;
  const sx = new Float64Array(K);
  const sy = new Float64Array(K);
  const sw = new Float64Array(K);
  let cost = 0;
  let wsum = 0;
  for (let i = 0; i < px.length; i++) {
    const x = px[i];
    const y = py[i];
    let best = 0;
    let bd = Number.POSITIVE_INFINITY;
    for (let k = 0; k < K; k++) {
      const dx = x - cx[k];
      const dy = y - cy[k];
      const d = dx * dx + dy * dy;
      if (d < bd) {
        bd = d;
        best = k;
      }
    }
    const wi = w ? w[i] : 1;
    sx[best] += wi * x;
    sy[best] += wi * y;
    sw[best] += wi;
    cost += wi * bd;
    wsum += wi;
  }
  let move = 0;
  for (let k = 0; k < K; k++) {
    if (sw[k] === 0) continue; // empty cell keeps its point
    const nx = sx[k] / sw[k];
    const ny = sy[k] / sw[k];
    move = Math.max(move, Math.abs(nx - cx[k]), Math.abs(ny - cy[k]));
    cx[k] = nx;
    cy[k] = ny;
  }
  return { cost: cost / wsum / 2, move };
}

function kmeansPlusPlus(px, py, K, next) {
  const n = px.length;
  const cx = new Float64Array(K);
  const cy = new Float64Array(K);
  const first = next() % n;
  cx[0] = px[first];
  cy[0] = py[first];
  const d2 = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
  for (let k = 1; k < K; k++) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      const dx = px[i] - cx[k - 1];
      const dy = py[i] - cy[k - 1];
      const d = dx * dx + dy * dy;
      if (d < d2[i]) d2[i] = d;
      total += d2[i];
    }
    let r = (next() / 4294967296) * total;
    let pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= d2[i];
      if (r <= 0) {
        pick = i;
        break;
      }
    }
    cx[k] = px[pick];
    cy[k] = py[pick];
  }
  return { cx, cy };
}

function grid2d(bits, seed) {
  const K = Math.round(2 ** (2 * bits));
  const n = 1 << 18;
  const z = normals(seed, 2 * n);
  const px = new Float64Array(n);
  const py = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    px[i] = z[2 * i];
    py[i] = z[2 * i + 1];
  }
  const next = mulberry32(seed ^ 0x9e3779b9);
  let best = null;
  for (let restart = 0; restart < 4; restart++) {
    const { cx, cy } = kmeansPlusPlus(px, py, K, next);
    let cost = 0;
    for (let it = 0; it < 100; it++) {
      const r = assignAndUpdate(px, py, null, cx, cy);
      cost = r.cost;
      if (r.move < 1e-7) break;
    }
    if (!best || cost < best.cost) best = { cx, cy, cost };
  }
  // polish on the exact density (midpoint quadrature)
  const M = 512;
  const R = 5.5;
  const h = (2 * R) / M;
  const qx = new Float64Array(M * M);
  const qy = new Float64Array(M * M);
  const qw = new Float64Array(M * M);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < M; j++) {
      const x = -R + (i + 0.5) * h;
      const y = -R + (j + 0.5) * h;
      qx[i * M + j] = x;
      qy[i * M + j] = y;
      qw[i * M + j] = phi(x) * phi(y);
    }
  const { cx, cy } = best;
  let mse = 0;
  for (let it = 0; it < 300; it++) {
    const r = assignAndUpdate(qx, qy, qw, cx, cy);
    mse = r.cost;
    if (r.move < 1e-9) break;
  }
  // order points: by angle-free canonical order (y, then x) so the table is stable to read
  const idx = Array.from({ length: K }, (_, k) => k).sort((a, b) => cy[a] - cy[b] || cx[a] - cx[b]);
  const points = [];
  for (const k of idx) points.push(cx[k], cy[k]);
  return { points, mse, sampleMse: best.cost };
}

// ---------- write ----------
const f32 = (v) => Math.fround(v);
const fmt = (arr) => arr.map((v) => String(f32(v))).join(', ');
let out = `// Generated by scripts/gen-grids.mjs — do not edit by hand (regenerate: see that script).
/**
 * Grids optimal for N(0,1), fp32 values. Used by the codebook and HIGGS quantizers; never fitted at
 * run time. See scripts/gen-grids.mjs for how each table was made.
 */

/** Lloyd-Max levels of N(0,1), ascending, indexed by bits (1..8; index 0 unused). */
export const LLOYD_MAX_GAUSSIAN: readonly (readonly number[])[] = [
  [],
`;
const mses = [];
for (let bits = 1; bits <= 8; bits++) {
  const t0 = Date.now();
  const { levels, mse, iters, lastMove } = lloydMax(bits);
  mses.push(mse);
  console.error(
    `scalar ${bits} bits: MSE ${mse.toFixed(6)}, ${iters} iterations, last move ${lastMove.toExponential(2)} (${Date.now() - t0} ms)`,
  );
  out += `  [${fmt(levels)}],\n`;
}
out += `];

/** MSE of {@link LLOYD_MAX_GAUSSIAN} on N(0,1) (closed form, by the generator), indexed by bits. */
export const LLOYD_MAX_GAUSSIAN_MSE: readonly number[] = [Number.NaN, ${mses.map((m) => m.toPrecision(6)).join(', ')}];

/** Rates (bits per value) with a 2-D grid: 2^(2·bits) points. */
export const GRID_2D_RATES: readonly number[] = [1, 1.5, 2, 2.5, 3];

/**
 * 2-D grids for N(0,1)² by rate (bits per value): points interleaved [x0, y0, x1, y1, …],
 * 2^(2·bits) points each.
 */
export const GRID_2D: Readonly<Record<string, readonly number[]>> = {
`;
const mse2 = {};
for (const bits of [1, 1.5, 2, 2.5, 3]) {
  const t0 = Date.now();
  const { points, mse, sampleMse } = grid2d(bits, 20251123 + bits * 2);
  mse2[bits] = mse;
  console.error(
    `2-D ${bits} bits: ${points.length / 2} points, MSE/dim ${mse.toFixed(6)} (samples ${sampleMse.toFixed(6)}) (${Date.now() - t0} ms)`,
  );
  out += `  '${bits}': [${fmt(points)}],\n`;
}
out += `};

/** MSE per dimension of each 2-D grid on N(0,1)² (quadrature, by the generator). */
export const GRID_2D_MSE: Readonly<Record<string, number>> = {
${Object.entries(mse2)
  .map(([b, m]) => `  '${b}': ${m.toPrecision(6)},`)
  .join('\n')}
};
`;
const target = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'quantizers', 'grids.generated.ts');
writeFileSync(target, out);
console.error(`wrote ${target}`);
