/**
 * A rotation racing another write to the same session (a parallel request's touch or data update
 * moved the version between the rotation's read and its compare-and-set): the rotation reads the
 * session again and succeeds, instead of answering SESSION_NOT_FOUND for a session that is live.
 */
import { describe, expect, it } from 'vitest';
import { createSessionManager, MemoryStore, type SessionRecord } from '../src/index.js';

/** A MemoryStore whose next `rotate` calls first let a "parallel request" update the session. */
class RacingStore extends MemoryStore {
  racesLeft = 0;
  rotateCalls = 0;
  override async rotate(oldId: string, expectedVersion: number, successor: SessionRecord, now: number) {
    this.rotateCalls++;
    if (this.racesLeft > 0) {
      this.racesLeft--;
      const current = await this.get(oldId, now);
      if (current) await this.update({ ...current, version: current.version + 1 }, current.version, now);
    }
    return super.rotate(oldId, expectedVersion, successor, now);
  }
}

describe('rotate racing a concurrent write', () => {
  it('retries on the newer version and keeps the session', async () => {
    const store = new RacingStore();
    const sessions = createSessionManager({ store });
    const { session } = await sessions.create({ userId: 'u1', data: { n: 1 } });
    store.racesLeft = 2;
    const rotated = await sessions.rotate(session);
    expect(store.rotateCalls).toBe(3);
    expect(rotated.session.id).not.toBe(session.id);
    expect(rotated.session.userId).toBe('u1');
    expect((await sessions.validateToken(rotated.token)).session?.id).toBe(rotated.session.id);
    expect(await store.get(session.id, Date.now())).toBeNull();
  });

  it('gives up with STORE_CONFLICT when the session never holds still, leaving it intact', async () => {
    const store = new RacingStore();
    const sessions = createSessionManager({ store });
    const { session, token } = await sessions.create({ userId: 'u1' });
    store.racesLeft = 100;
    await expect(sessions.rotate(session)).rejects.toMatchObject({ code: 'STORE_CONFLICT' });
    expect(store.rotateCalls).toBe(5);
    expect((await sessions.validateToken(token)).session?.id).toBe(session.id);
  });

  it('still answers SESSION_NOT_FOUND when another request rotated the session first', async () => {
    const sessions = createSessionManager({ store: new MemoryStore() });
    const { session } = await sessions.create({ userId: 'u1' });
    await sessions.rotate(session);
    await expect(sessions.rotate(session)).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });
});
