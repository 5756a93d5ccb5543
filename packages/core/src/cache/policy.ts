import type { CachePolicy } from './types.js';

/** AQUA-KV's evaluation policy: 4 fp16 attention-sink tokens, new tokens gathered in an fp16 buffer compressed as one block of 128. */
export const defaultPolicy: CachePolicy = Object.freeze({ sinkTokens: 4, bufferTokens: 128 });

/** The strict protocol (DESIGN.md): only the 4 sinks in full precision; every appended chunk is compressed at once. */
export const strictPolicy: CachePolicy = Object.freeze({ sinkTokens: 4, bufferTokens: 0 });
