import { afterEach, describe, expect, it } from 'vitest';
import { getWithCookie, startChildServer, stopChildServers } from '../../../test-support/child-server.js';

afterEach(stopChildServers);

describe('Cookie headers with a tab next to other whitespace around "=" (CK-05, CK-14, hardening item 8)', () => {
  it('are answered at once, and the server goes on serving: no busy loop in the cookie scan', async () => {
    // In its own process: a stuck event loop there cannot stall this one.
    const { url, token } = await startChildServer(new URL('./fixtures/tab-cookie-server.ts', import.meta.url));
    // A tab followed by a space before "=", or after it: each once spun the event loop for ever.
    for (const cookie of ['__Host-sid\t =x', '__Host-sid=\t x', '__Host-sid \t\t= x']) {
      const response = await getWithCookie(`${url}/private`, cookie);
      expect(response.status, JSON.stringify(cookie)).toBe(401);
    }
    // Tabs and spaces around "=" are optional whitespace (RFC 6265bis): the token is read.
    expect((await getWithCookie(`${url}/private`, `__Host-sid=\t ${token}`)).status).toBe(200);
    const mixed = await getWithCookie(`${url}/private`, `__Host-sid\t =junk; __Host-sid=${token}`);
    expect(mixed.status).toBe(200);
    expect(JSON.parse(mixed.body)).toEqual({ userId: 'u1' });
    expect((await getWithCookie(`${url}/private`, `__Host-sid=${token}`)).status).toBe(200);
  });
});
