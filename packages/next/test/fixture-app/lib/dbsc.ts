import { createDbsc } from '@org/session-core/dbsc';
import { type NextDbsc, type NextSessions, nextDbsc } from '@org/session-next';
import type { NextRequest } from 'next/server';
import { auth } from './auth';
import { fixtureSetup } from './setup';

type Step = (request: NextRequest, context: unknown) => Promise<Response>;

let made: Record<string, Step> | undefined;

/** The routes of the DBSC HTTP suite (core's runDbscHttpSuite), made on first request from the test's setup. */
export function dbscRoutes(): Record<string, Step> {
  if (made) return made;
  const options = fixtureSetup()?.dbsc;
  if (!options) throw new Error('This test did not set up DBSC (FixtureSetup.dbsc)');
  const sessions: NextSessions = auth();
  const dbsc: NextDbsc = nextDbsc(sessions, createDbsc(sessions.manager, options));
  const guarded = (require: 'if-bound' | 'always') =>
    sessions.route(
      async () => {
        await dbsc.requireBound(require);
        return Response.json({ sent: true });
      },
      { session: true },
    );
  made = {
    'POST login': sessions.route(async () =>
      dbsc.offer(Response.json({ ok: true }), await sessions.login({ userId: 'alice' })),
    ),
    'POST register': dbsc.register,
    'POST refresh': dbsc.refresh,
    'GET profile': sessions.route(async () => Response.json({ user: (await sessions.getSession())?.userId }), {
      session: true,
    }),
    'GET transfer': guarded('if-bound'),
    'GET strict': guarded('always'),
    'POST logout': sessions.route(async () => {
      await sessions.logout();
      return dbsc.clear(Response.json({ ok: true }));
    }),
  };
  return made;
}
