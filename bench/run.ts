/**
 * `pnpm bench`: every section measures our code next to its floor or its peers in the same run.
 * Run one section with `pnpm bench <name>` (core, jwt, stores, http, sidecar, revocation).
 */
const sections: Record<string, () => Promise<{ run(): Promise<void> }>> = {
  core: () => import('./core.ts'),
  jwt: () => import('./jwt.ts'),
  'store-redis': () => import('./store-redis.ts'),
  'store-sql': () => import('./store-sql.ts'),
  http: () => import('./http.ts'),
  sidecar: () => import('./sidecar.ts'),
  revocation: () => import('./revocation.ts'),
};

const wanted = process.argv.slice(2);
const names = wanted.length > 0 ? wanted : Object.keys(sections);
console.log(`# Benchmarks (${new Date().toISOString()}, Node ${process.version}, ${names.join(', ')})`);
for (const name of names) {
  const load = sections[name];
  if (!load) {
    console.error(`Unknown section "${name}"; choose from ${Object.keys(sections).join(', ')}`);
    process.exit(2);
  }
  await (await load()).run();
}
