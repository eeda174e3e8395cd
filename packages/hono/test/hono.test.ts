import { getConnInfo } from '@hono/node-server/conninfo';
import { runAdapterHttpSuite } from '@org/session-core/testing/vitest';
import { sendRaw } from '../../../test-support/raw-http.js';
import { referenceApp } from './fixtures/reference-app.js';
import { listen } from './node-server.js';

runAdapterHttpSuite({
  name: 'hono (node-server)',
  start: async ({ manager, csrf }) => listen(referenceApp(manager, csrf, { getConnInfo }).app),
  sendRaw,
});
