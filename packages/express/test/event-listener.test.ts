import { afterEach, describe, expect, it } from 'vitest';
import { getWithCookie, startChildServer, stopChildServers } from '../../../test-support/child-server.js';

afterEach(stopChildServers);

describe('audit hooks (onEvent) that fail asynchronously', () => {
  it('never take the server down: a rejected async listener is ignored like a throwing one', async () => {
    // In its own process: an unhandled rejection there ends that process, not this one.
    const server = await startChildServer(new URL('./fixtures/failing-audit-server.ts', import.meta.url));
    const unknown = `__Host-sid=${'A'.repeat(22)}.${'A'.repeat(43)}`;
    // Each of these emits an event (session.invalid_token) whose listener rejects.
    expect((await getWithCookie(`${server.url}/private`, unknown)).status).toBe(401);
    expect((await getWithCookie(`${server.url}/private`, '__Host-sid=junk')).status).toBe(401);
    // An unhandled rejection ends the process right after the response that caused it, so a dead
    // server would refuse this request.
    expect((await getWithCookie(`${server.url}/private`, `__Host-sid=${server.token}`)).status).toBe(200);
  });
});
