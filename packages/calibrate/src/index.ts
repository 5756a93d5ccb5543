/** @kvq/calibrate — placeholder until its issue lands. */
export const packageName = '@kvq/calibrate';
