#!/usr/bin/env node
// The public surface of every published package, one Markdown file per package in api/: each
// entry point of its `exports` map with every name it exports and that name's declared shape
// (signatures, public members, property types). Read from the TypeScript sources through the
// compiler API, so no build is needed. `--check` (CI) fails when a checked-in report differs from
// the code: a change to the public surface is then a visible diff in review (`pnpm api:update`).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(import.meta.dirname, '..');
const check = process.argv.includes('--check');
const outDir = join(root, 'api');

const packages = readdirSync(join(root, 'packages'))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')) }))
  .filter(({ manifest }) => !manifest.private);

const flags =
  ts.TypeFormatFlags.NoTruncation |
  ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType |
  ts.TypeFormatFlags.WriteArrowStyleSignature;

function entriesOf(dir, manifest) {
  return Object.entries(manifest.exports ?? {})
    .filter(([key, value]) => key !== './package.json' && typeof value === 'object' && value['@org/source'])
    .map(([key, value]) => ({ key, file: join(root, 'packages', dir, value['@org/source']) }));
}

const allEntries = packages.flatMap(({ dir, manifest }) => entriesOf(dir, manifest).map((e) => e.file));
const program = ts.createProgram(allEntries, {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  customConditions: ['@org/source'],
  strict: true,
  skipLibCheck: true,
  noEmit: true,
});
const checker = program.getTypeChecker();

const oneLine = (text) => text.replace(/\s+/g, ' ').trim();

function isPublicMember(symbol) {
  const declaration = symbol.valueDeclaration ?? symbol.declarations?.[0];
  if (!declaration) return false;
  const modifiers = ts.getCombinedModifierFlags(declaration);
  if (modifiers & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) return false;
  return !symbol.getName().startsWith('#') && !symbol.getName().startsWith('__');
}

function describeMembers(type, location) {
  const lines = [];
  for (const member of checker.getPropertiesOfType(type)) {
    if (!isPublicMember(member)) continue;
    const declaration = member.valueDeclaration ?? member.declarations?.[0];
    const memberType = checker.getTypeOfSymbolAtLocation(member, declaration ?? location);
    const readonly =
      declaration && ts.getCombinedModifierFlags(declaration) & ts.ModifierFlags.Readonly ? 'readonly ' : '';
    const optional = member.flags & ts.SymbolFlags.Optional ? '?' : '';
    if (member.flags & ts.SymbolFlags.Method) {
      for (const signature of memberType.getCallSignatures()) {
        lines.push(
          `  ${member.getName()}${optional}${oneLine(checker.signatureToString(signature, undefined, flags))}`,
        );
      }
    } else {
      lines.push(
        `  ${readonly}${member.getName()}${optional}: ${oneLine(checker.typeToString(memberType, undefined, flags))}`,
      );
    }
  }
  return lines;
}

function describe(exported) {
  const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
  const name = exported.getName();
  const declaration = symbol.valueDeclaration ?? symbol.declarations?.[0];
  const out = [];
  if (symbol.flags & ts.SymbolFlags.Class) {
    out.push(`class ${name}`);
    const instance = checker.getDeclaredTypeOfSymbol(symbol);
    const constructorType = checker.getTypeOfSymbolAtLocation(symbol, declaration);
    for (const signature of constructorType.getConstructSignatures()) {
      out.push(
        `  constructor${oneLine(checker.signatureToString(signature, undefined, flags)).replace(/ => .*$/, '')}`,
      );
    }
    out.push(...describeMembers(instance, declaration));
  } else if (symbol.flags & ts.SymbolFlags.Function) {
    const type = checker.getTypeOfSymbolAtLocation(symbol, declaration);
    for (const signature of type.getCallSignatures()) {
      out.push(`function ${name}${oneLine(checker.signatureToString(signature, undefined, flags))}`);
    }
  } else if (symbol.flags & ts.SymbolFlags.Interface) {
    out.push(`interface ${name}`);
    out.push(...describeMembers(checker.getDeclaredTypeOfSymbol(symbol), declaration));
  } else if (symbol.flags & ts.SymbolFlags.TypeAlias) {
    const text = declaration && ts.isTypeAliasDeclaration(declaration) ? declaration.type.getText() : '?';
    const params = declaration?.typeParameters
      ? `<${declaration.typeParameters.map((p) => p.getText()).join(', ')}>`
      : '';
    out.push(`type ${name}${params} = ${oneLine(text)}`);
  } else if (symbol.flags & ts.SymbolFlags.Variable) {
    const type = checker.getTypeOfSymbolAtLocation(symbol, declaration);
    out.push(`const ${name}: ${oneLine(checker.typeToString(type, undefined, flags))}`);
  } else {
    out.push(`${ts.SymbolFlags[symbol.flags] ?? 'export'} ${name}`);
  }
  return out.join('\n');
}

const stale = [];
mkdirSync(outDir, { recursive: true });
for (const { dir, manifest } of packages) {
  const sections = [
    `# ${manifest.name}: public API`,
    '',
    'Generated by `pnpm api:update` from the sources; CI fails when it differs from the code.',
    '',
  ];
  for (const { key, file } of entriesOf(dir, manifest)) {
    const source = program.getSourceFile(file);
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    const exports = moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : [];
    const values = exports.filter(
      (e) => (e.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(e) : e).flags & ts.SymbolFlags.Value,
    );
    sections.push(`## \`${key === '.' ? manifest.name : `${manifest.name}/${key.slice(2)}`}\``, '');
    sections.push(`${exports.length} names: ${values.length} values, ${exports.length - values.length} types.`, '');
    sections.push('```ts');
    for (const exported of [...exports].sort((a, b) => a.getName().localeCompare(b.getName())))
      sections.push(describe(exported));
    sections.push('```', '');
  }
  const text = `${sections.join('\n').trimEnd()}\n`;
  const target = join(outDir, `${dir}.api.md`);
  if (check) {
    if (!existsSync(target) || readFileSync(target, 'utf8') !== text) stale.push(target);
  } else {
    writeFileSync(target, text);
  }
}
if (check && stale.length > 0) {
  console.error(
    `The public API changed; run \`pnpm api:update\` and commit the result:\n${stale.map((s) => `  ${s}`).join('\n')}`,
  );
  process.exit(1);
}
console.log(check ? 'api reports match the code' : `api reports written to ${outDir}`);
