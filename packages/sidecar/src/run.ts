import { readFile } from 'node:fs/promises';
import { configFromEnvironment, isSidecarConfigError, parseSidecarConfig, SidecarConfigError } from './config.js';
import { createSidecar } from './sidecar.js';

const USAGE = `Usage: session-sidecar [--config sidecar.json] [--check]

Starts the session sidecar (forward auth for nginx auth_request, Traefik ForwardAuth and
Envoy ext_authz; JWKS; token endpoint; health and readiness).

  --config <file>  read the configuration from a JSON file
  --check          check the configuration (and key files), then exit
  --help           show this text

Without --config, SESSION_SIDECAR_* environment variables configure it (see the README).
Exit status: 0 stopped cleanly, 2 configuration error, 1 any other failure.`;

function parseArgs(argv: string[]): { config: string | null; check: boolean; help: boolean } {
  const args = { config: null as string | null, check: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') args.help = true;
    else if (arg === '--check') args.check = true;
    else if (arg === '--config' || arg === '-c') {
      const value = argv[++i];
      if (!value) throw new SidecarConfigError('CONFIG_MISSING', '--config', 'needs a file name');
      args.config = value;
    } else if (arg.startsWith('--config=')) args.config = arg.slice('--config='.length);
    else throw new SidecarConfigError('CONFIG_INVALID_VALUE', arg, 'unknown argument (see --help)');
  }
  return args;
}

async function loadConfig(file: string | null, env: Environment): Promise<unknown> {
  if (file !== null) {
    const stray = Object.keys(env).filter((name) => name.startsWith('SESSION_SIDECAR_'));
    if (stray.length > 0) {
      throw new SidecarConfigError(
        'CONFIG_CONFLICT',
        stray[0] as string,
        'SESSION_SIDECAR_* variables and --config cannot be combined: choose one source',
      );
    }
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (cause) {
      throw new SidecarConfigError('CONFIG_FILE_UNREADABLE', file, 'the config file cannot be read', { cause });
    }
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new SidecarConfigError('CONFIG_JSON_INVALID', file, 'the config file is not valid JSON', { cause });
    }
  }
  const fromEnv = configFromEnvironment(env);
  if (fromEnv === null) {
    throw new SidecarConfigError(
      'CONFIG_MISSING',
      '',
      'no configuration: pass --config <file> or set SESSION_SIDECAR_*',
    );
  }
  return fromEnv;
}

type Environment = Readonly<Record<string, string | undefined>>;

/** Where the CLI writes, and what tells it to stop (SIGTERM or SIGINT by default). */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Resolves with a reason once the running sidecar should close. */
  stopSignal?: () => Promise<string>;
}

function processSignals(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
}

/**
 * The `session-sidecar` command: reads the configuration (`--config <file>` or `SESSION_SIDECAR_*`
 * variables, never both), starts the sidecar and runs until stopped. Resolves with the exit
 * status: 0 stopped cleanly, 2 configuration error (its code and field on stderr), 1 anything else.
 */
export async function runCli(argv: readonly string[], env: Environment, io: CliIo): Promise<number> {
  try {
    const args = parseArgs([...argv]);
    if (args.help) {
      io.stdout(`${USAGE}\n`);
      return 0;
    }
    const config = await loadConfig(args.config, env);
    const resolved = parseSidecarConfig(config);
    const sidecar = await createSidecar(config as Parameters<typeof createSidecar>[0]);
    if (args.check) {
      await sidecar.close();
      io.stdout(`configuration ok (mode ${resolved.mode})\n`);
      return 0;
    }
    const { url } = await sidecar.listen();
    io.stderr(`session-sidecar: ${resolved.mode} mode, listening on ${url}\n`);
    const reason = await (io.stopSignal ?? processSignals)();
    io.stderr(`session-sidecar: ${reason}, closing\n`);
    await sidecar.close();
    return 0;
  } catch (error) {
    if (isSidecarConfigError(error)) {
      io.stderr(`session-sidecar: configuration error ${error.code}: ${error.message}\n`);
      return 2;
    }
    // Never print a message or stack that could hold a connection string: the name and code only.
    const code = (error as { code?: unknown })?.code;
    const name = (error as Error)?.name ?? 'Error';
    io.stderr(`session-sidecar: failed (${name}${code ? ` ${String(code)}` : ''})\n`);
    return 1;
  }
}
