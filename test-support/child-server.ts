// Node-only helper shared by the adapters' tests: a server in its own process, for failures that
// would take the test runner down with it (a busy event loop, a crash on an unhandled rejection).
import { type ChildProcess, spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const children: ChildProcess[] = [];

export interface ChildServer {
  url: string;
  /** A live session token the fixture created for user `u1`. */
  token: string;
  /** Resolves with the exit code once the process has ended (for example after a crash). */
  exited: Promise<number | null>;
}

/**
 * Runs `fixture` (a TypeScript file printing `{"port","token"}` once listening) with the workspace
 * source condition, and resolves once it listens.
 */
export async function startChildServer(fixture: string | URL): Promise<ChildServer> {
  const path = fixture instanceof URL ? fileURLToPath(fixture) : fixture;
  const child = spawn(process.execPath, ['--conditions=@org/source', '--import', 'tsx', path], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    void exited.then((code) => reject(new Error(`fixture server exited before listening (${code})`)));
  });
  const { port, token } = JSON.parse(line) as { port: number; token: string };
  return { url: `http://127.0.0.1:${port}`, token, exited };
}

/** Kills every server started by {@link startChildServer}; call it in `afterEach`. */
export function stopChildServers(): void {
  for (const child of children.splice(0)) child.kill('SIGKILL');
}

/** GET with a raw Cookie header; rejects when the server gives no answer within `timeoutMs`. */
export function getWithCookie(
  url: string,
  cookie: string,
  timeoutMs = 3000,
): Promise<{ status: number; body: string }> {
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
