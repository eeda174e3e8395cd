import { describe, expect, it } from 'vitest';
import { MemoryStore, SessionManager } from '../src/index.js';
import { createTestClock } from '../src/testing/index.js';

describe('smoke', () => {
  it('creates and validates a session via its cookie', async () => {
    const clock = createTestClock();
    const sessions = new SessionManager({ store: new MemoryStore(), clock });
    const issued = await sessions.create({ userId: 'u1', data: { role: 'user' } });
    expect(issued.cookies[0]).toMatch(/^__Host-sid=[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}; Path=\/; Secure; HttpOnly; SameSite=Lax$/);
    const cookieHeader = issued.cookies[0]?.split(';')[0];
    const result = await sessions.validateCookie(cookieHeader);
    expect(result.status).toBe('valid');
    expect(result.session?.userId).toBe('u1');
  });
});
