// `pnpm demo:next` sets NEXT_MANUAL_SIG_HANDLE, so Next leaves the signals to the app: Ctrl-C
// closes the SQLite files and exits 0, quietly (Next's own handler exits 130, which pnpm reports).
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== 'nodejs') return;
  // Open the stores at startup (a bad SESSION_STORE or an unreachable server exits at once), not at the first request.
  if (process.env.NEXT_PHASE !== 'phase-production-build') await (await import('./lib/demo')).startDemo();
  if (!process.env.NEXT_MANUAL_SIG_HANDLE) return;
  let closing = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // pnpm passes on the terminal's Ctrl-C a second time: close once, ignore the repeats.
    process.on(signal, () => {
      if (closing) return;
      closing = true;
      const opened = (globalThis as Record<symbol, Promise<{ services: { close(): Promise<void> } }> | undefined>)[
        Symbol.for('demo-next.services')
      ];
      Promise.resolve(opened)
        .then((demo) => demo?.services.close())
        .then(
          () => process.exit(0),
          () => process.exit(1),
        );
    });
  }
}
