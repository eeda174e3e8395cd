import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { typeDiagnostics } from '../../../test-support/type-check.js';

// An app that declares its session data once, in core, compiled with this package's tsconfig. It
// is compiled on its own (a virtual file) because a module augmentation would otherwise reach
// every file of the package's typecheck.
const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const app = here('__register-app__.ts');
const appText = `import { createSessionManager, MemoryStore, type Register as CoreRegister, type RegisteredData, type Session } from '@org/session-core';
import express, { type Request } from 'express';
import { expressSessions, type Register as ExpressRegister } from '../src/index.js';

type AppData = { role: 'member' | 'admin' };

declare module '@org/session-core' {
  interface Register {
    data: AppData;
  }
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <T extends true>(): T | undefined => undefined;
same<Equal<RegisteredData, AppData>>();
same<Equal<Request['session'], Session<AppData> | null>>();
same<Equal<ExpressRegister, CoreRegister>>();

const manager = createSessionManager<AppData>({ store: new MemoryStore() });
const auth = expressSessions(manager);
express().get('/role', auth.requireSession(), (req, res) => {
  const role: 'member' | 'admin' | undefined = req.session?.data.role;
  // @ts-expect-error not a field of AppData
  void req.session?.data.plan;
  res.json({ role, result: req.sessionResult?.session?.data.role });
});
`;

describe('express: session data typed by a Register declared in core', () => {
  it('req.session.data is the registered type, and the adapter re-exports the same Register', {
    timeout: 120_000,
  }, () => {
    const source = here('../src/index.ts');
    const report = typeDiagnostics({
      tsconfig: here('../tsconfig.json'),
      files: [source],
      virtual: { [app]: appText },
    });
    expect(report.get(app)).toEqual([]);
    // The adapter's own source too, as an app in this workspace compiles it (the @org/source condition).
    expect(report.get(source)).toEqual([]);
  });
});
