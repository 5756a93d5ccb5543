import type { KVLayout } from '../layout.js';
import type { AquaAdapters } from '../predictors/types.js';
import type { SeededRandom } from '../random.js';

/**
 * Random AQUA-KV adapters for `layout` (tests): layer 0 null, weights N(0, 1/fan-in) so predictions
 * keep the scale of their inputs, biases N(0, 0.1²). Deterministic for a seeded `rng`.
 */
export function randomAdapters(rng: SeededRandom, layout: KVLayout, model = 'synthetic'): AquaAdapters {
  const c = layout.kvHeads * layout.headDim;
  return {
    layout,
    model: { name: model },
    layers: Array.from({ length: layout.layers }, (_, i) =>
      i === 0
        ? null
        : {
            keyWeight: rng.normalArray(c * c, 0, 1 / Math.sqrt(c)),
            keyBias: rng.normalArray(c, 0, 0.1),
            valueWeight: rng.normalArray(2 * c * c, 0, 1 / Math.sqrt(2 * c)),
            valueBias: rng.normalArray(c, 0, 0.1),
          },
    ),
  };
}
