import type { QuantizerSpec } from '../quantizers/spec.js';
import type { EncodedBlock } from '../quantizers/types.js';

/** One compressed block of a layer: `tokens` consecutive tokens' keys and values (or residuals). */
export interface StoredBlock {
  /** tokens encoded in the block */
  readonly tokens: number;
  /** tokens of the block still in the cache (< tokens after a truncate that cut the block) */
  used: number;
  keySpec: QuantizerSpec;
  valueSpec: QuantizerSpec;
  keys: EncodedBlock;
  values: EncodedBlock;
  /** encoded at the attention-aware (higher) precision */
  high: boolean;
}
