/**
 * @kvq/core/node — Node-only helpers (atomic file writes). Not for browsers.
 * @packageDocumentation
 */
export {};
