// `pnpm demo:next` sets NEXT_MANUAL_SIG_HANDLE, so Next leaves the signals to the app: Ctrl-C
// closes the SQLite files and exits 0, quietly (Next's own handler exits 130, which pnpm reports).
export function register(): void {
  if (process.env.NEXT_RUNTIME !== 'nodejs' || !process.env.NEXT_MANUAL_SIG_HANDLE) return;
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
