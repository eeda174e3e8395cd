import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian's `nginx` package (and the usual source builds) put the binary. */
const CANDIDATES = ['nginx', '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'];

/** The nginx binary, or null. */
export function findNginx(): string | null {
  for (const candidate of CANDIDATES) {
    if (spawnSync(candidate, ['-v'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return null;
}

export const NGINX_MISSING = `nginx was not found (looked for: ${CANDIDATES.join(', ')}).
Install Debian's package, then run the command again:
  sudo apt-get install -y nginx-light   # or: nginx
(the stack starts its own nginx on a loopback port with a generated configuration; the system service is not used)`;

export interface Ports {
  nginx: number;
  authA: number;
  authB: number;
  orders: number;
  billing: number;
  reports: number;
  sidecar: number;
}

/**
 * The front door: the auth service's two instances (round robin), the JWKS, the two JWT services,
 * and `/reports/` behind `auth_request` to the sidecar. Identity headers are always set by nginx
 * from the sidecar's answer, so whatever a client sent under those names is overwritten (empty
 * when the sidecar sent none).
 */
export function nginxConfig(dir: string, ports: Ports): string {
  return `worker_processes 1;
error_log ${dir}/logs/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;

  upstream auth {
    server 127.0.0.1:${ports.authA};
    server 127.0.0.1:${ports.authB};
    keepalive 16;
  }
  upstream session_sidecar {
    server 127.0.0.1:${ports.sidecar};
    keepalive 16;
  }

  server {
    listen 127.0.0.1:${ports.nginx};
    proxy_http_version 1.1;
    proxy_set_header Connection "";

    location /auth/ { proxy_pass http://auth; }
    location = /.well-known/jwks.json { proxy_pass http://auth; }
    location /orders/ { proxy_pass http://127.0.0.1:${ports.orders}; }
    location /billing/ { proxy_pass http://127.0.0.1:${ports.billing}; }

    location = /_session_auth {
      internal;
      proxy_pass http://session_sidecar/auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Real-IP $remote_addr;
    }

    location /reports/ {
      auth_request /_session_auth;
      auth_request_set $auth_user_id $upstream_http_x_auth_user_id;
      auth_request_set $auth_session_id $upstream_http_x_auth_session_id;
      auth_request_set $auth_time $upstream_http_x_auth_time;
      proxy_set_header X-Auth-User-Id $auth_user_id;
      proxy_set_header X-Auth-Session-Id $auth_session_id;
      proxy_set_header X-Auth-Time $auth_time;
      proxy_pass http://127.0.0.1:${ports.reports};
      # The sidecar answers 503 when the store is down; nginx turns any auth subrequest status but
      # 2xx/401/403 into its own 500. Said as what it is: unavailable, a deny.
      error_page 500 = @auth_unavailable;
    }

    location @auth_unavailable {
      default_type application/json;
      return 503 '{"code":"STORE_UNAVAILABLE"}';
    }
  }
}
`;
}

/** A free loopback port (for nginx, which cannot report the one it was given). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface RunningNginx {
  port: number;
  stop(): Promise<void>;
}

/** Starts nginx in the foreground in its own process group, with the config in a temp dir. */
export async function startNginx(binary: string, ports: Ports): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'microservices-nginx-'));
  for (const sub of ['logs', 'tmp']) mkdirSync(join(dir, sub));
  writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, ports));
  const child: ChildProcess = spawn(binary, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const killGroup = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(killGroup, 3000);
      await exited;
      clearTimeout(timer);
    }
    killGroup();
    rmSync(dir, { recursive: true, force: true });
  };
  // Up once it answers on its port (bounded: 5 s).
  for (let attempt = 0; attempt < 100; attempt++) {
    if (child.exitCode !== null) break;
    const answered = await fetch(`http://127.0.0.1:${ports.nginx}/_probe`).then(
      () => true,
      () => false,
    );
    if (answered) return { port: ports.nginx, stop };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  let log = stderr;
  try {
    log += readFileSync(join(dir, 'logs', 'error.log'), 'utf8');
  } catch {
    // No log written.
  }
  await stop();
  throw new Error(`nginx did not start: ${log}`);
}
