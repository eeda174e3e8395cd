import { createJwtKeySet, createJwtVerifier, importJwtKey, type PublicJwks } from '@org/session-core/jwt';

// The edge runtime: no store, no adapter, core's JWT verifier alone. The public JWKS, issuer and
// audience come from the environment (the edge sandbox shares nothing else with the server).
export const runtime = 'edge';

let verifier: ReturnType<typeof createJwtVerifier> | undefined;

async function getVerifier() {
  if (verifier) return verifier;
  const jwks = JSON.parse(process.env.FIXTURE_JWKS ?? '{"keys":[]}') as PublicJwks;
  const keys = await Promise.all(jwks.keys.map((key) => importJwtKey({ alg: key.alg, kid: key.kid, key })));
  verifier = createJwtVerifier({
    keys: createJwtKeySet({ verifyOnly: keys }),
    issuer: process.env.FIXTURE_JWT_ISSUER ?? '',
    audience: process.env.FIXTURE_JWT_AUDIENCE ?? '',
  });
  return verifier;
}

export async function GET(request: Request): Promise<Response> {
  const authorization = request.headers.get('authorization') ?? '';
  const token = authorization.startsWith('Bearer ') ? authorization.slice(7) : null;
  try {
    const claims = await (await getVerifier()).verify(token);
    return Response.json(
      { sub: claims.sub, sid: claims.sid, runtime: 'edge' },
      { headers: { 'cache-control': 'no-store' } },
    );
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'JWT_INVALID';
    return Response.json({ error: { code, message: 'Invalid session JWT' } }, { status: 401 });
  }
}
