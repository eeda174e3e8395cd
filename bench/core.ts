/**
 * Core section: what the session manager costs per operation on the memory store, next to the
 * floor it cannot beat, measured in the same run: one SHA-256 of 32 bytes (@noble/hashes) plus
 * one Map lookup. Target (issue 2): a plain validation costs at most 2x that floor.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { getCookieValues, MemoryStore, parseSessionToken, randomString, SessionManager } from '@org/session-core';
import { type BenchResult, bench, printTable, printTarget } from './lib.ts';

// A fixed clock: validations never reach the touch interval, so "validate" measures the plain
// read path (no store write), which is the one every request pays.
const fixedClock = { now: () => Date.UTC(2026, 0, 1) };

function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

export async function run(): Promise<void> {
  // The floor: the hash of the presented secret plus the lookup of the record by id.
  const records = new Map<string, { secretHash: Uint8Array }>();
  const ids: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const id = randomString(16);
    ids.push(id);
    records.set(id, { secretHash: randomBytes(32) });
  }
  const secret = randomBytes(32);
  const lookupId = ids[500] as string;
  const floor = await bench('floor: sha256(32 B) + Map.get', () => {
    const digest = sha256(secret);
    return records.get(lookupId) === undefined ? null : digest;
  });
  const hashOnly = await bench('sha256(32 B) alone', () => sha256(secret));
  const mapOnly = await bench('Map.get alone', () => records.get(lookupId));

  // Big enough that the benchmark's own creates never fill it: "create" measures the create
  // path, not eviction.
  const store = new MemoryStore({ maxSessions: 2_000_000 });
  const sessions = new SessionManager({ store, clock: fixedClock });
  const seed = await sessions.create({ userId: 'bench-user', data: { role: 'member' } });
  const cookieHeader = `theme=dark; ${seed.cookies[0]?.split(';')[0]}; _ga=GA1.2.3`;

  const validateCookie = await bench('validateCookie (memory store, no touch)', () =>
    sessions.validateCookie(cookieHeader),
  );
  const validateToken = await bench('validateToken (memory store, no touch)', () => sessions.validateToken(seed.token));
  const parseOnly = await bench('Cookie parse + token parse only', () =>
    parseSessionToken(getCookieValues(cookieHeader, '__Host-sid')[0]),
  );
  const storeGet = await bench('MemoryStore.get alone', () => store.get(seed.session.id, fixedClock.now()));

  let userCounter = 0;
  const create = await bench('create', () => sessions.create({ userId: `user-${userCounter++ % 1000}` }));

  let current = (await sessions.create({ userId: 'rotating-user' })).session;
  const rotate = await bench('rotate', async () => {
    current = (await sessions.rotate(current)).session;
    return current;
  });

  const results: BenchResult[] = [
    floor,
    hashOnly,
    mapOnly,
    validateCookie,
    validateToken,
    parseOnly,
    storeGet,
    create,
    rotate,
  ];
  printTable('core: session manager on the memory store vs the floor (same run)', results, floor.name);
  printTarget('validateCookie / floor', validateCookie.nsPerOp / floor.nsPerOp, 2);
  printTarget('validateToken / floor', validateToken.nsPerOp / floor.nsPerOp, 2);
  await store.close();
}
