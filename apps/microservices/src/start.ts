import { findNginx, NGINX_MISSING } from './nginx.js';
import { DEMO_PASSWORD, startStack } from './stack.js';

// `pnpm microservices`: the whole stack on loopback until Ctrl-C.
if (!findNginx()) {
  console.error(NGINX_MISSING);
  process.exit(1);
}
const port = Number(process.env.MICROSERVICES_PORT ?? 8600);
const stack = await startStack({
  port,
  onEvent: (service, event) => console.log(`[${service}] ${event.type}`),
}).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  console.error('Redis must answer at REDIS_URL (default redis://127.0.0.1:6379).');
  process.exit(1);
});
const u = stack.url;
console.log(`microservices on ${u} (Redis ${stack.redisUrl}, keys under ${stack.prefix})
  auth (2 instances)  ${stack.authA.url}  ${stack.authB.url}   via nginx: ${u}/auth/...
  orders, billing     JWT + JWKS + revocation push           ${u}/orders/me  ${u}/billing/me
  reports             nginx auth_request + sidecar           ${u}/reports/whoami

Try:
  curl -c jar -H 'content-type: application/json' -d '{"username":"alice","password":"${DEMO_PASSWORD}"}' ${u}/auth/login
  curl -b jar ${u}/reports/whoami
  curl -H "authorization: Bearer <jwt from login>" ${u}/orders/me
  curl -b jar -H 'content-type: application/json' -d '{}' ${u}/auth/logout
  curl -u ${stack.apiCaller.id}:${stack.apiCaller.key} -H 'content-type: application/json' -d '{"session_jwt":"<jwt>"}' ${u}/auth/sessions/authenticate
  (the session API's caller key is made for this run and valid only on this machine)
`);
const shutdown = () => {
  void stack.stop().then(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
