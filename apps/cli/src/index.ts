/** @kvq/cli — placeholder until its issue lands. */
export const packageName = '@kvq/cli';
