/** @kvq/kernels-cuda — placeholder until its issue lands. */
export const packageName = '@kvq/kernels-cuda';
