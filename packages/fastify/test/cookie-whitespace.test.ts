import { type ChildProcess, spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/tab-cookie-server.ts', import.meta.url));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** Starts the fixture in its own process, so a stuck event loop there cannot stall this one. */
async function startServer(): Promise<{ url: string; token: string }> {
  const child = spawn(process.execPath, ['--conditions=@org/source', '--import', 'tsx', fixture], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    child.once('exit', (code) => reject(new Error(`fixture server exited early (${code})`)));
  });
  const { port, token } = JSON.parse(line) as { port: number; token: string };
  return { url: `http://127.0.0.1:${port}`, token };
}

/** GET with a raw Cookie header; rejects when the server gives no answer within `timeoutMs`. */
function get(url: string, cookie: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { cookie } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms: the server is stuck`)));
    req.on('error', reject);
    req.end();
  });
}

describe('Cookie headers with a tab next to other whitespace around "=" (CK-05, CK-14)', () => {
  it('are answered at once, and the server goes on serving: no busy loop in the cookie scan', async () => {
    const { url, token } = await startServer();
    // A tab followed by a space before "=", or after it: each once spun the event loop for ever.
    for (const cookie of ['__Host-sid\t =x', '__Host-sid=\t x', '__Host-sid \t\t= x', `__Host-sid=\t ${token}`]) {
      const response = await get(`${url}/private`, cookie);
      expect(response.status, JSON.stringify(cookie)).toBe(401);
    }
    // The pair with a tab is skipped (a control character); the clean pair after it still counts.
    const mixed = await get(`${url}/private`, `__Host-sid\t =junk; __Host-sid=${token}`);
    expect(mixed.status).toBe(200);
    expect(JSON.parse(mixed.body)).toEqual({ userId: 'u1' });
    expect((await get(`${url}/private`, `__Host-sid=${token}`)).status).toBe(200);
  });
});
