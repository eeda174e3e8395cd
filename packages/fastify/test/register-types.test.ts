import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { typeDiagnostics } from '../../../test-support/type-check.js';

// An app that declares its session data once, compiled with this package's tsconfig. It is
// compiled on its own (a virtual file) because a module augmentation would otherwise reach every
// file of the package's typecheck. It declares through this package's name, as apps did before
// `Register` moved to core: the declaration lands in core's `Register`, which every adapter reads.
const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const app = here('__register-app__.ts');
const appText = `import { createSessionManager, MemoryStore, type RegisteredData, type Session } from '@org/session-core';
import { type FastifySessions, fastifySessions } from '@org/session-fastify';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';

type AppData = { role: 'member' | 'admin' };

declare module '@org/session-fastify' {
  interface Register {
    data: AppData;
  }
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <T extends true>(): T | undefined => undefined;
same<Equal<RegisteredData, AppData>>();
same<Equal<FastifyRequest['session'], Session<AppData> | null>>();
same<Equal<FastifyInstance['sessions'], FastifySessions<AppData>>>();

const server = Fastify();
await server.register(fastifySessions, { manager: createSessionManager<AppData>({ store: new MemoryStore() }) });
server.get('/role', { preHandler: server.sessions.requireSession() }, async (request) => {
  const role: 'member' | 'admin' | undefined = request.session?.data.role;
  // @ts-expect-error not a field of AppData
  void request.session?.data.plan;
  return { role, result: request.sessionResult?.session?.data.role };
});
`;

describe('fastify: session data typed by Register', () => {
  it('request.session.data is the registered type, declared through this package or core', { timeout: 120_000 }, () => {
    const source = here('../src/index.ts');
    const report = typeDiagnostics({
      tsconfig: here('../tsconfig.json'),
      files: [source],
      virtual: { [app]: appText },
    });
    expect(report.get(app)).toEqual([]);
    // The plugin's own source too, as an app in this workspace compiles it (the @org/source condition).
    expect(report.get(source)).toEqual([]);
  });
});
