import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { typeDiagnostics } from '../../../test-support/type-check.js';

// An app that declares its session data once, in core, compiled with this package's tsconfig, on
// its own (a virtual file): a module augmentation would otherwise reach every file of the package.
const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const app = here('__register-app__.ts');
const appText = `import { createSessionManager, MemoryStore, type Register as CoreRegister, type RegisteredData, type Session } from '@org/session-core';
import { Hono, type ContextVariableMap } from 'hono';
import { honoSessions, type Register as HonoRegister, type SessionEnv } from '../src/index.js';

type AppData = { role: 'member' | 'admin' };

declare module '@org/session-core' {
  interface Register {
    data: AppData;
  }
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <T extends true>(): T | undefined => undefined;
same<Equal<RegisteredData, AppData>>();
same<Equal<ContextVariableMap['session'], Session<AppData> | null>>();
same<Equal<SessionEnv['Variables']['session'], Session<AppData> | null>>();
same<Equal<HonoRegister, CoreRegister>>();

const manager = createSessionManager<AppData>({ store: new MemoryStore() });
const auth = honoSessions(manager);
new Hono<SessionEnv>().get('/role', auth.requireSession(), (c) => {
  const role: 'member' | 'admin' | undefined = c.var.session?.data.role;
  // @ts-expect-error not a field of AppData
  void c.var.session?.data.plan;
  return c.json({ role, result: c.get('sessionResult')?.session?.data.role ?? null });
});
// Typed without the Env parameter too (ContextVariableMap).
new Hono().use(auth.middleware).get('/plain', auth.requireFresh(60_000), (c) => {
  const role: 'member' | 'admin' | undefined = c.var.session?.data.role;
  // @ts-expect-error not a field of AppData
  void c.get('session')?.data.plan;
  return c.json({ role });
});
`;

describe('hono: session data typed by a Register declared in core', () => {
  it('c.var.session.data is the registered type, and the adapter re-exports the same Register', {
    timeout: 120_000,
  }, () => {
    const source = here('../src/index.ts');
    const report = typeDiagnostics({
      tsconfig: here('../tsconfig.json'),
      files: [source],
      virtual: { [app]: appText },
    });
    expect(report.get(app)).toEqual([]);
    expect(report.get(source)).toEqual([]);
  });
});
