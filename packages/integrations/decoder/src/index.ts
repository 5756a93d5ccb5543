/** @kvq/decoder — placeholder until its issue lands. */
export const packageName = '@kvq/decoder';
