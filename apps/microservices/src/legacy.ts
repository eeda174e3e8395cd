import { type RunningService, sendJson, serve } from './http.js';

/**
 * A service that links no session library at all: nginx asks the sidecar before each request and
 * passes the identity in `X-Auth-*` headers. It trusts those headers because only nginx reaches it.
 */
export function startLegacy(name: string, port = 0): Promise<RunningService> {
  return serve(name, port, (req, res, url) => {
    if (url.pathname !== `/${name}/whoami`) return sendJson(res, 404, { code: 'NOT_FOUND' });
    const identity = Object.fromEntries(Object.entries(req.headers).filter(([header]) => header.startsWith('x-auth-')));
    return sendJson(res, 200, { service: name, identity });
  });
}
