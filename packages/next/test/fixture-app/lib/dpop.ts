import type { DpopAnswer } from '@org/session-core/testing/vitest';
import { nextDpop } from '@org/session-next';
import type { NextRequest } from 'next/server';
import { fixtureSetup } from './setup';

type Route = (request: NextRequest, context: unknown) => Promise<Response>;

let made: Record<string, Route> | undefined;

const send = (answer: DpopAnswer) => Response.json(answer.body, { status: answer.status, headers: answer.headers });

/** The routes of core's DPoP HTTP suite under /dpop, made on first request from the test's setup. */
export function dpopRoutes(): Record<string, Route> {
  if (made) return made;
  const input = fixtureSetup()?.dpop;
  if (!input) throw new Error('This test did not set up DPoP (FixtureSetup.dpop)');
  const { verifier, handlers } = input;
  const tokenEndpoint = nextDpop(verifier, { tokenEndpoint: true });
  const resource = nextDpop(verifier);
  made = {
    'POST /token': tokenEndpoint(async (request, auth) => send(await handlers.token(auth, await request.json()))),
    'POST /token/refresh': tokenEndpoint(async (request, auth) =>
      send(await handlers.refresh(auth, await request.json())),
    ),
    'POST /token/revoke': tokenEndpoint(async (request, auth) =>
      send(await handlers.revoke(auth, await request.json())),
    ),
    'GET /api/me': resource(async (_request, auth) => send(await handlers.me(auth, null))),
    'GET /api/jwt': resource(async (_request, auth) => send(await handlers.jwt(auth))),
  };
  return made;
}
