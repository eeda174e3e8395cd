/// <reference types="node" />
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// vitest runs the type tests' code but not their types: this compiles them with core's tsconfig,
// so a type that stops narrowing, or a `@ts-expect-error` line that stops erring, fails a test
// that CI counts (as well as `pnpm typecheck`).
const configPath = fileURLToPath(new URL('../tsconfig.json', import.meta.url));
const typeTests = ['events-types.test.ts', 'cookie-types.test.ts'].map((name) =>
  fileURLToPath(new URL(name, import.meta.url)),
);
/** A file that must not compile, to show the check can fail. */
const control = fileURLToPath(new URL('__type-control__.ts', import.meta.url));
const controlText = `import type { CookieOptions, SessionEvent } from '../src/index.js';
export const cookie: CookieOptions = { name: '__Host-sid', domain: 'example.com' };
export const previous = (event: SessionEvent) => event.previousSidHash;
`;

function compile() {
  const config = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  );
  if (!config) throw new Error('no tsconfig');
  const host = ts.createCompilerHost(config.options);
  const getSourceFile = host.getSourceFile;
  host.getSourceFile = (fileName, language, ...rest) =>
    fileName === control
      ? ts.createSourceFile(fileName, controlText, language)
      : getSourceFile.call(host, fileName, language, ...rest);
  const fileExists = host.fileExists;
  host.fileExists = (fileName) => fileName === control || fileExists.call(host, fileName);
  const program = ts.createProgram([...typeTests, control], config.options, host);
  const report = (file: string) => {
    const source = program.getSourceFile(file);
    if (!source) throw new Error(`not compiled: ${file}`);
    return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((d) => {
      const line = d.start === undefined ? 0 : source.getLineAndCharacterOfPosition(d.start).line + 1;
      return `${line}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
    });
  };
  return report;
}

describe('type tests', () => {
  it('compile without a diagnostic, and a file breaking the same rules does not', { timeout: 120_000 }, () => {
    const report = compile();
    for (const file of typeTests) expect(report(file), file).toEqual([]);
    const errors = report(control);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^2: TS2322 .*__Host-sid/);
    expect(errors[1]).toMatch(/^3: TS2339 Property 'previousSidHash' does not exist/);
  });
});
