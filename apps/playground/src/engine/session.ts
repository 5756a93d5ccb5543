import {
  AdapterMismatchError,
  type AquaAdapters,
  type CacheOptions,
  type CacheStats,
  InvalidArgumentError,
  type KVCache,
  KvqError,
  MissingAdaptersError,
  createCache,
  decodeAdapters,
  getPreset,
} from '@kvq/core';
import {
  type DenseOps,
  type EvalCacheSpec,
  GgufFile,
  LlamaModel,
  type Tokenizer,
  argmax,
  evaluateCaches,
  nonOverlappingWindows,
  tokenizerFromGguf,
} from '@kvq/decoder';
import { AQUA_PRESETS, POLICIES, type PolicyName, type PresetChoice, presetChoices } from './presets.js';
import { type LayerError, RecordingCache, emptyErrorSums, relativeErrors } from './recording-cache.js';

/** What the page shows about a loaded model. */
export interface ModelInfo {
  readonly name: string;
  readonly architecture: string;
  readonly layers: number;
  readonly queryHeads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly vocab: number;
  readonly context: number;
  readonly fileBytes: number;
  readonly presets: readonly PresetChoice[];
}

/** Options of {@link PlaygroundSession.generate}. */
export interface GenerateRequest {
  readonly prompt: string;
  /** tokens to generate (greedy) */
  readonly tokens: number;
  readonly preset: string;
  readonly policy: PolicyName;
}

/** One step of a generation, reported live. */
export interface GenerateStep {
  /** tokens generated so far */
  readonly generated: number;
  readonly promptTokens: number;
  /** the text generated so far */
  readonly text: string;
  readonly stats: CacheStats;
  /** prompt tokens per second (prefill) */
  readonly prefillTokensPerSecond: number;
  /** generated tokens per second, over the decode steps so far (NaN before the second token) */
  readonly decodeTokensPerSecond: number;
  readonly done: boolean;
}

/** Options of {@link PlaygroundSession.compare}. */
export interface CompareRequest {
  readonly text: string;
  readonly presets: readonly string[];
  /** at most this many tokens of the text are scored */
  readonly maxTokens: number;
  /** window length (tokens); each window goes through a fresh cache */
  readonly window: number;
  readonly policy: PolicyName;
}

/** One preset's row of a comparison. */
export interface CompareRow {
  readonly name: string;
  readonly perplexity: number;
  readonly kl: number;
  readonly top1: number;
  readonly bitsPerValue: number;
  readonly storedBitsPerValue: number;
  readonly kvBytes: number;
  readonly fp16KvBytes: number;
  readonly seconds: number;
  /** relative MSE of the reconstructed keys and values per layer (tokens after the sinks) */
  readonly layers: readonly LayerError[];
}

/** The result of {@link PlaygroundSession.compare}. */
export interface CompareResult {
  readonly tokens: number;
  readonly windows: number;
  readonly policy: PolicyName;
  readonly rows: readonly CompareRow[];
}

/** Generation and comparison over one loaded GGUF model, for the page's worker (runs in Node too). */
export class PlaygroundSession {
  readonly #adapters = new Map<string, AquaAdapters>();
  #aquaReason = 'no AQUA-KV adapters were offered for this model';

  private constructor(
    readonly file: GgufFile,
    readonly model: LlamaModel,
    readonly tokenizer: Tokenizer,
    readonly fileBytes: number,
  ) {}

  /**
   * Parses a GGUF file and builds the reference decoder on it. Errors: {@link CorruptFileError}
   * (not a GGUF, truncated), `UnsupportedArchitectureError`, `UnsupportedTensorTypeError`.
   */
  static load(bytes: Uint8Array, what: string, ops?: DenseOps): PlaygroundSession {
    const file = GgufFile.parse(bytes, what);
    return PlaygroundSession.fromFile(file, bytes.byteLength, ops);
  }

  /** Builds a session on an already parsed file (used to switch the dense-ops backend). */
  static fromFile(file: GgufFile, fileBytes: number, ops?: DenseOps): PlaygroundSession {
    const model = LlamaModel.fromGguf(file, ops ? { ops } : {});
    const tokenizer = tokenizerFromGguf(file.metadata);
    return new PlaygroundSession(file, model, tokenizer, fileBytes);
  }

  /** Moves adapters (and the reason AQUA is unavailable) to a session on the same file. */
  copyAdaptersTo(other: PlaygroundSession): void {
    for (const [k, v] of this.#adapters) other.#adapters.set(k, v);
    other.#aquaReason = this.#aquaReason;
  }

  /**
   * Decodes an AQUA-KV adapter file for `preset` and keeps it when it was fitted for this model
   * (same model name and layout). Returns null when it was accepted, else the reason it was not
   * (an {@link AdapterMismatchError} or corrupt-file message).
   */
  addAdapters(preset: string, bytes: Uint8Array, what: string): string | null {
    if (!(AQUA_PRESETS as readonly string[]).includes(preset))
      throw new InvalidArgumentError(`"${preset}" is not an AQUA-KV preset (${AQUA_PRESETS.join(', ')})`);
    try {
      const a = decodeAdapters(bytes, { layout: this.model.layout, model: { name: this.model.config.name } });
      this.#adapters.set(preset, a);
      return null;
    } catch (e) {
      if (!(e instanceof KvqError)) throw e;
      const reason =
        e instanceof AdapterMismatchError
          ? `the bundled ${preset} adapters (${what}) were fitted for another model: ${e.message}`
          : `${what}: ${e.message}`;
      this.#aquaReason = reason;
      return reason;
    }
  }

  /** Records why AQUA presets are unavailable (shown next to them). */
  setAquaReason(reason: string): void {
    this.#aquaReason = reason;
  }

  /** The model and the presets the page can offer for it. */
  info(): ModelInfo {
    const c = this.model.config;
    return {
      name: c.name,
      architecture: c.architecture,
      layers: c.layers,
      queryHeads: c.queryHeads,
      kvHeads: c.kvHeads,
      headDim: c.headDim,
      vocab: c.vocab,
      context: c.contextLength,
      fileBytes: this.fileBytes,
      presets: presetChoices(this.#adapters, this.#aquaReason),
    };
  }

  /** A fresh cache of `preset` under `policy`. @throws MissingAdaptersError for AQUA without adapters */
  createCache(preset: string, policy: PolicyName): KVCache {
    const p = getPreset(preset);
    const adapters = this.#adapters.get(preset);
    if (p.predictor === 'aqua' && !adapters) throw new MissingAdaptersError(preset);
    const { label: _label, ...pol } = POLICIES[policy];
    const options: CacheOptions = { layout: this.model.layout, preset: p, policy: pol, adapters };
    return createCache(options);
  }

  /**
   * Greedy generation with a fresh cache of the chosen preset; `onStep` is called after the
   * prompt and after every generated token with the cache's stats and the speeds so far.
   * `shouldStop` is polled between tokens.
   */
  async generate(
    req: GenerateRequest,
    onStep: (s: GenerateStep) => void,
    shouldStop: () => boolean = () => false,
  ): Promise<GenerateStep> {
    if (!Number.isInteger(req.tokens) || req.tokens < 1)
      throw new InvalidArgumentError(`tokens must be a positive integer, got ${req.tokens}`);
    const ctx = this.model.config.contextLength;
    const prompt = this.tokenizer.encode(req.prompt, { addBos: true });
    if (prompt.length + req.tokens > ctx) {
      throw new InvalidArgumentError(
        `prompt (${prompt.length} tokens) + ${req.tokens} new tokens exceed the model's context of ${ctx}`,
      );
    }
    const cache = this.createCache(req.preset, req.policy);
    try {
      const t0 = performance.now();
      let logits: Float32Array = new Float32Array(0);
      for (let s = 0; s < prompt.length; s += 32) {
        const part = prompt.slice(s, s + 32);
        logits = await this.model.forward(part, cache, {
          logits: s + 32 >= prompt.length ? 'last' : 'none',
        });
      }
      const prefillSeconds = (performance.now() - t0) / 1000;
      const out: number[] = [];
      let decodeStart = 0;
      const step = (done: boolean): GenerateStep => {
        const decoded = out.length - 1;
        const s: GenerateStep = {
          generated: out.length,
          promptTokens: prompt.length,
          text: this.tokenizer.decode(out),
          stats: cache.stats(),
          prefillTokensPerSecond: prompt.length / prefillSeconds,
          decodeTokensPerSecond:
            decoded > 0 ? decoded / ((performance.now() - decodeStart) / 1000) : Number.NaN,
          done,
        };
        onStep(s);
        return s;
      };
      for (let i = 0; i < req.tokens; i++) {
        const next = argmax(logits, 0, this.model.config.vocab);
        out.push(next);
        if (i === 0) decodeStart = performance.now();
        const last = i === req.tokens - 1 || shouldStop();
        // the last token is appended too, so the cache holds prompt + every generated token
        logits = await this.model.forward([next], cache, { logits: last ? 'none' : 'last' });
        if (last) return step(true);
        step(false);
        // let the worker see messages (a stop request) between tokens
        await new Promise((r) => setTimeout(r, 0));
      }
      throw new Error('unreachable');
    } finally {
      cache.dispose();
    }
  }

  /**
   * Scores `presets` on `text` with the evaluation protocol of @kvq/decoder's `evaluateCaches`
   * (fp16 is the reference, added when missing), and measures each preset's per-layer relative
   * reconstruction error of keys and values on the same runs.
   */
  async compare(
    req: CompareRequest,
    onProgress?: (done: number, total: number, preset: string) => void,
  ): Promise<CompareResult> {
    const ids = this.tokenizer.encode(req.text, { addBos: false }).slice(0, req.maxTokens);
    if (ids.length < 2) throw new InvalidArgumentError('the comparison text has fewer than 2 tokens');
    const window = Math.min(req.window, this.model.config.contextLength);
    const windows = nonOverlappingWindows(ids, window);
    const names = ['fp16', ...req.presets.filter((p) => p !== 'fp16')];
    for (const n of names) {
      const p = getPreset(n);
      if (p.predictor === 'aqua' && !this.#adapters.has(n)) throw new MissingAdaptersError(n);
    }
    const sums = new Map(names.map((n) => [n, emptyErrorSums(this.model.config.layers)]));
    const spec = (name: string): EvalCacheSpec => ({
      name,
      create: () => new RecordingCache(this.createCache(name, req.policy), sums.get(name)),
    });
    const results = await evaluateCaches({
      model: this.model,
      windows,
      reference: spec('fp16'),
      caches: names.slice(1).map(spec),
      onProgress: (p) => onProgress?.(p.done, p.total, p.cache),
    });
    return {
      tokens: results[0]!.tokens,
      windows: windows.length,
      policy: req.policy,
      rows: results.map((r) => ({
        name: r.name,
        perplexity: r.perplexity,
        kl: r.kl,
        top1: r.top1,
        bitsPerValue: r.bitsPerValue,
        storedBitsPerValue: r.storedBitsPerValue,
        kvBytes: r.kvBytes,
        fp16KvBytes: r.fp16KvBytes,
        seconds: r.seconds,
        layers: relativeErrors(sums.get(r.name)!),
      })),
    };
  }
}
