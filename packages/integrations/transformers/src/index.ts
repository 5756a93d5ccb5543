/** @kvq/transformers — placeholder until its issue lands. */
export const packageName = '@kvq/transformers';
