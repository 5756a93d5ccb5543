/** @kvq/node-llama-cpp — placeholder until its issue lands. */
export const packageName = '@kvq/node-llama-cpp';
