/**
 * File formats of @kvq/core (browser-safe: no Node built-ins): CRC-32, the versioned kvq
 * container, safetensors, and the AQUA-KV adapter file. Byte layouts: packages/core/FORMATS.md.
 * Node file helpers (atomic writes, load/save) live in `@kvq/core/node`.
 * @packageDocumentation
 */
export { crc32, crc32Hex } from './crc32.js';
export {
  CONTAINER_MAGIC,
  type ContainerContents,
  type ContainerExpectation,
  type ContainerInput,
  type ContainerKind,
  decodeContainer,
  containerSize,
  encodeContainer,
} from './container.js';
export {
  SAFETENSORS_DTYPE_SIZE,
  SAFETENSORS_MAX_HEADER,
  type SafetensorsDType,
  type SafetensorsFile,
  type SafetensorsTensor,
  type SafetensorsTensorInput,
  decodeSafetensors,
  encodeSafetensors,
  safetensorToFloat32,
} from './safetensors.js';
export {
  ADAPTERS_FORMAT,
  ADAPTERS_VERSIONS,
  type AdapterExpectation,
  decodeAdapters,
  encodeAdapters,
} from './adapters.js';
