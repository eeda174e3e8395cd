/**
 * The demo keeps used DPoP proof ids in its own session store (markOnce), not in a per-process
 * cache: two demo instances on one store (the same SQLite files, Redis namespace or PostgreSQL
 * schema) refuse a proof the other has already accepted. Real HTTP on loopback, proofs made by the
 * `dpop` package. Without Redis or PostgreSQL those cases are skipped with a warning, except
 * under CI=true, where they fail.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import type { DemoConfig } from 'demo-shared/config';
import { generateKeyPair, generateProof } from 'dpop';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDemo } from '../src/app.js';
import { bootDemo, makeDataDir, removeDataDir } from './support/demo.js';

const inCI = process.env.CI === 'true';

/** Whether something accepts TCP connections on 127.0.0.1:`port` (bounded by a 2 s timeout). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: 2000 });
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** POST /api/token to `port` with a `Host` of the caller's choice (the proof's `htu` names it). */
function postToken(port: number, host: string, proof: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ email: 'nobody@example.com', password: 'not a password' });
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/token',
        headers: { host, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), dpop: proof },
        timeout: 20_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.end(body);
  });
}

type Kind = 'sqlite' | 'redis' | 'postgres';
const servicePort: Record<Kind, number | null> = { sqlite: null, redis: 6379, postgres: 5432 };
const up: Record<Kind, boolean> = {
  sqlite: true,
  redis: await listening(6379),
  postgres: await listening(5432),
};
for (const kind of ['redis', 'postgres'] as const) {
  if (!up[kind] && !inCI)
    console.warn(`[demo-express] skipping the ${kind} replay case: nothing on 127.0.0.1:${servicePort[kind]}`);
}

/** Removes what the demo wrote under its namespace on Redis or PostgreSQL, through the demo's own store. */
async function dropNamespace(kind: Kind, demo: RunningDemo, namespace: string): Promise<void> {
  const store = demo.services.store as unknown as {
    client?: { keys(pattern: string): Promise<string[]>; del(...keys: string[]): Promise<number> };
    pool?: { query(text: string): Promise<unknown> };
  };
  if (kind === 'redis' && store.client) {
    const keys = await store.client.keys(`${namespace}:*`);
    if (keys.length > 0) await store.client.del(...keys);
  }
  if (kind === 'postgres' && store.pool) await store.pool.query(`DROP SCHEMA IF EXISTS "${namespace}" CASCADE`);
}

for (const kind of ['sqlite', 'redis', 'postgres'] as const) {
  describe.skipIf(!up[kind] && !inCI)(`demo-express on ${kind}: DPoP replay checks in the session store`, () => {
    const namespace = `test_replay_${randomBytes(4).toString('hex')}`;
    let dataDir: string;
    let first: RunningDemo | undefined;
    let second: RunningDemo | undefined;

    beforeAll(async () => {
      if (!up[kind]) throw new Error(`${kind} on 127.0.0.1:${servicePort[kind]} is required under CI=true`);
      dataDir = makeDataDir();
      const settings: Partial<DemoConfig> = { store: kind, storeNamespace: namespace };
      // Two instances on one store: the same data folder (SQLite), or the same namespace.
      first = await bootDemo(dataDir, settings);
      second = await bootDemo(dataDir, settings);
    }, 60_000);
    afterAll(async () => {
      if (first) await dropNamespace(kind, first, namespace);
      await second?.close();
      await first?.close();
      if (dataDir) removeDataDir(dataDir);
    });

    it('a proof accepted by one instance is refused as replayed by the other, and a fresh one is not', async () => {
      const a = first as RunningDemo;
      const b = second as RunningDemo;
      const host = `localhost:${a.port}`;
      const tokenUrl = `http://${host}/api/token`;
      const keys = await generateKeyPair('ES256');
      const proof = await generateProof(keys, tokenUrl, 'POST');

      // Accepted by the first (then the unknown account is refused: the proof itself was fine).
      const accepted = await postToken(a.port, host, proof);
      expect([accepted.status, JSON.parse(accepted.body).error]).toEqual([400, 'invalid_grant']);
      // The second instance, reached under the same origin, has seen it through the shared store.
      const replayed = await postToken(b.port, host, proof);
      expect(replayed.status).toBe(400);
      expect(JSON.parse(replayed.body)).toMatchObject({ error: 'invalid_dpop_proof' });
      // A new proof from the same key still goes through on the second instance.
      const fresh = await postToken(b.port, host, await generateProof(keys, tokenUrl, 'POST'));
      expect([fresh.status, JSON.parse(fresh.body).error]).toEqual([400, 'invalid_grant']);
    }, 60_000);
  });
}
