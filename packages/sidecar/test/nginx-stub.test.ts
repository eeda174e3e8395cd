import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStub } from './stub.js';
import { findNginx, httpRequest, inCI, type RunningNginx, startEchoUpstream, startNginx } from './support.js';

const nginx = findNginx();
if (!nginx && inCI) throw new Error('nginx is required under CI=true (.ci/run installs it)');
if (!nginx) console.warn('nginx not found: the nginx auth_request tests are skipped (apt-get install nginx)');

describe.skipIf(!nginx)('nginx auth_request harness (stub engine)', () => {
  const { engine, sidecar } = serveStub();
  let upstream: Awaited<ReturnType<typeof startEchoUpstream>>;
  let proxy: RunningNginx;
  let base = '';

  beforeAll(async () => {
    const { port } = await sidecar.listen(0, '127.0.0.1');
    upstream = await startEchoUpstream();
    proxy = await startNginx(nginx as string, { sidecarPort: port, upstreamPort: upstream.port });
    base = `http://127.0.0.1:${proxy.port}`;
  });
  afterAll(async () => {
    await proxy?.stop();
    await upstream?.close();
    await sidecar.close();
  });

  it('passes an allowed request upstream with the sidecar identity, replacing the client copies', async () => {
    const answer = await httpRequest(`${base}/orders?id=1`, {
      headers: {
        authorization: 'Bearer good-u1',
        'x-auth-user-id': 'admin',
        'x-auth-session-id': 'forged',
        'x-auth-time': '1',
        'x-auth-claim-role': 'root',
      },
    });
    expect(answer.status, proxy.errorLog()).toBe(200);
    const seen = JSON.parse(answer.body).headers;
    expect(seen['x-auth-user-id']).toBe('u1');
    expect(seen['x-auth-session-id']).toBe('h(sid-1)');
    expect(seen['x-auth-time']).toBe('1700000000');
    expect(seen['x-auth-claim-role']).toBe('admin');
    const last = engine.seen.at(-1);
    expect(last?.authorization).toBe('Bearer good-u1');
    expect(last?.ip).toBe('127.0.0.1');
  });

  it('denies with 401 without reaching upstream, and a 503 from the sidecar is a deny too', async () => {
    const before = upstream.hits();
    const denied = await httpRequest(`${base}/orders`, { headers: { 'x-auth-user-id': 'admin' } });
    expect(denied.status).toBe(401);
    const down = await httpRequest(`${base}/orders`, { headers: { authorization: 'Bearer down' } });
    expect(down.status).toBeGreaterThanOrEqual(500);
    expect(upstream.hits()).toBe(before);
  });

  it('a stopped sidecar is a deny', async () => {
    const dead = serveStub();
    const { port } = await dead.sidecar.listen(0, '127.0.0.1');
    await dead.sidecar.close();
    const other = await startNginx(nginx as string, { sidecarPort: port, upstreamPort: upstream.port });
    try {
      const before = upstream.hits();
      const answer = await httpRequest(`http://127.0.0.1:${other.port}/orders`, {
        headers: { authorization: 'Bearer good-u1' },
      });
      expect(answer.status).toBeGreaterThanOrEqual(500);
      expect(upstream.hits()).toBe(before);
    } finally {
      await other.stop();
    }
  });
});
