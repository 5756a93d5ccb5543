/**
 * @kvq/core/testing — the backend conformance suite.
 * @packageDocumentation
 */
export {};
