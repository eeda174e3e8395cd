// Node-only helper for type tests: compiles files with a package's tsconfig through the TypeScript
// compiler API and returns their diagnostics, so a test that vitest counts fails when a type stops
// doing its job (a narrowing lost, a `@ts-expect-error` line that no longer errs).
import ts from 'typescript';

export interface TypeCheckInput {
  /** The package's tsconfig.json: its compiler options apply. */
  tsconfig: string;
  /** Files on disk to compile and report on. */
  files?: readonly string[];
  /**
   * Files that exist only here (absolute path → source), compiled and reported on too. Useful for
   * a module augmentation, which would otherwise reach every file of the package's typecheck.
   */
  virtual?: Readonly<Record<string, string>>;
}

/** Each reported file's diagnostics, as `line: TScode message` (an empty list when it compiles). */
export function typeDiagnostics(input: TypeCheckInput): Map<string, string[]> {
  const config = ts.getParsedCommandLineOfConfigFile(
    input.tsconfig,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  );
  if (!config) throw new Error(`cannot read ${input.tsconfig}`);
  const virtual = new Map(Object.entries(input.virtual ?? {}));
  const host = ts.createCompilerHost(config.options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (fileName, language, ...rest) => {
    const text = virtual.get(fileName);
    return text === undefined
      ? getSourceFile.call(host, fileName, language, ...rest)
      : ts.createSourceFile(fileName, text, language);
  };
  host.fileExists = (fileName) => virtual.has(fileName) || fileExists.call(host, fileName);
  host.readFile = (fileName) => virtual.get(fileName) ?? readFile.call(host, fileName);
  const roots = [...(input.files ?? []), ...virtual.keys()];
  const program = ts.createProgram(roots, config.options, host);
  const result = new Map<string, string[]>();
  for (const file of roots) {
    const source = program.getSourceFile(file);
    if (!source) throw new Error(`not compiled: ${file}`);
    const diagnostics = [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)];
    result.set(
      file,
      diagnostics.map((d) => {
        const line = d.start === undefined ? 0 : source.getLineAndCharacterOfPosition(d.start).line + 1;
        return `${line}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
      }),
    );
  }
  return result;
}
