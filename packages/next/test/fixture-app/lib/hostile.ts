/** An answer of the hostile corpus's API routes (see runHostileHttpSuite in @org/session-core/testing/vitest). */
export interface HostileApiAnswer {
  status: number;
  headers: Array<[string, string]>;
  body: unknown;
}

/** The two API routes the hostile corpus adds to the reference app, handed over by test/hostile.test.ts. */
export interface HostileApi {
  refresh(body: unknown): Promise<HostileApiAnswer>;
  me(authorization: string | undefined): Promise<HostileApiAnswer>;
}

export const HOSTILE_KEY = Symbol.for('org-session-next.hostile-api');

export function hostileApi(): HostileApi {
  const api = (globalThis as Record<symbol, HostileApi | undefined>)[HOSTILE_KEY];
  if (!api) throw new Error('The hostile API routes run only inside test/hostile.test.ts');
  return api;
}

export function answer({ status, headers, body }: HostileApiAnswer): Response {
  return Response.json(body, { status, headers });
}
