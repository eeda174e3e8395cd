import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { typeDiagnostics } from '../../../test-support/type-check.js';

// An app that declares its session data once, in core, compiled with this package's tsconfig, on
// its own (a virtual file): a module augmentation would otherwise reach every file of the package.
const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const app = here('__register-app__.ts');
const appText = `import { createSessionManager, MemoryStore, type Register as CoreRegister, type RegisteredData, type Session } from '@org/session-core';
import { nextSessions, type Register as NextRegister } from '../src/index.js';

type AppData = { role: 'member' | 'admin' };

declare module '@org/session-core' {
  interface Register {
    data: AppData;
  }
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <T extends true>(): T | undefined => undefined;
same<Equal<RegisteredData, AppData>>();
same<Equal<NextRegister, CoreRegister>>();

const auth = nextSessions(createSessionManager<AppData>({ store: new MemoryStore() }));
export async function page() {
  const session = await auth.getSession();
  same<Equal<typeof session, Session<AppData> | null>>();
  const role: 'member' | 'admin' | undefined = session?.data.role;
  // @ts-expect-error not a field of AppData
  void session?.data.plan;
  return role;
}
export const GET = auth.route(async () => {
  const session = await auth.requireFresh(60_000);
  return Response.json({ role: session.data.role });
});
export const api = auth.api(async (_request, caller) => {
  if (caller.via === 'jwt') return Response.json({ sub: caller.claims.sub });
  const role: 'member' | 'admin' = caller.session.data.role;
  return Response.json({ role });
});
`;

describe('next: session data typed by a Register declared in core', () => {
  it('getSession(), requireFresh() and api() give the registered type; the adapter re-exports the same Register', {
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
