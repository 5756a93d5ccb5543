/** @kvq/kernels-webgpu — placeholder until its issue lands. */
export const packageName = '@kvq/kernels-webgpu';
