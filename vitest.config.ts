import { defineConfig } from 'vitest/config';

// `npx vitest` from the root runs every package's suite as one project each (CI runs them through
// turbo instead: `pnpm test:all`).
export default defineConfig({
  test: { projects: ['packages/*', 'packages/integrations/*', 'apps/*'] },
});
