/** The migration guides show the apps this package runs: every `file=` code block equals its file. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const guides = [
  'docs/getting-started.md',
  'docs/migrating-from-express-session.md',
  'docs/migrating-from-iron-session.md',
  'docs/login-throttling.md',
];

describe.each(guides)('%s', (guide) => {
  const text = readFileSync(join(root, guide), 'utf8');
  const blocks = [...text.matchAll(/```ts file=(\S+)\n([\s\S]*?)```/g)];

  it('shows the apps it is about', () => {
    const files = blocks.map((b) => b[1]);
    if (guide.includes('throttling')) {
      expect(files).toEqual(['apps/examples/src/login-throttling.ts']);
    } else if (guide.includes('migrating')) {
      expect(files).toEqual([expect.stringMatching(/-before\.ts$/), expect.stringMatching(/-after\.ts$/)]);
    } else {
      expect(files).toEqual(['express', 'fastify', 'hono'].map((f) => `apps/examples/src/getting-started-${f}.ts`));
    }
  });

  it.each(blocks.map((b) => [b[1] as string, b[2] as string]))('%s is shown exactly as it runs', (file, shown) => {
    expect(shown).toBe(readFileSync(join(root, file), 'utf8'));
  });
});
