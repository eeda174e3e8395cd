import { project } from '../../vitest.shared.ts';

export default project({
  test: {
    name: 'microservices',
    // Real nginx, Redis and HTTP on 2 shared cores; key rotation waits out a JWKS cooldown.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
