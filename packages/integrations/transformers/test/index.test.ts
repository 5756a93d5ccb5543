import { expect, it } from 'vitest';
import { packageName } from '../src/index.js';

it('exports its name', () => {
  expect(packageName).toBe('@kvq/transformers');
});
