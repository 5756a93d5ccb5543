/**
 * Names of adapter files shipped with @kvq/calibrate for the bundled reference model, and where
 * they are looked up: `<package>/adapters/<model>.<preset>.safetensors`.
 */
export function bundledAdapterFileName(model: string, preset: string): string {
  if (!/^[\w.-]+$/.test(model) || !/^[\w.-]+$/.test(preset)) {
    throw new Error(`model and preset names must be plain file-name characters, got "${model}", "${preset}"`);
  }
  return `${model}.${preset}.safetensors`;
}
