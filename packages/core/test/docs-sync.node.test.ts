/// <reference types="node" />
/**
 * Docs that name things in the code stay equal to the code: docs/security-checklist.md defines
 * every checklist id that a test title or a comment uses, and names only files that exist and
 * mention the row; docs/errors.md lists exactly the codes of errors.ts, with their statuses and
 * generic messages. Node-only because it reads the repository from disk.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultErrorMessage } from '../src/entries/adapter.js';
import { errorCodes } from '../src/errors.js';
import { errorStatus, type SessionErrorCode } from '../src/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');

const CHECKLIST = 'docs/security-checklist.md';
const checklistDoc = read(CHECKLIST);
const errorsDoc = read('docs/errors.md');

/** Where checklist ids are used: every workspace folder with code, tests or docs. */
const SCANNED = ['packages', 'apps', 'bench', 'docs', 'scripts', 'test-support'];
const SKIPPED = new Set(['node_modules', 'dist', 'coverage']);

/**
 * A checklist id: two capitals, a hyphen and two digits (`CK-05`), or one capital and one or two
 * digits (`B10`). Algorithm names such as `ES256` never match; `V-J1` (an outside test vector,
 * after a letter and a hyphen) and `V7.1.1` (an ASVS section, followed by a dot and a digit) are
 * skipped. Ranges such as `H1-H8` give both ends.
 */
const CHECKLIST_ID = /(?<![A-Za-z]-)\b(?:[A-Z]{2}-\d{2}|[A-Z]\d{1,2})\b(?!\.\d)/g;
const ID_CELL = /^(?:[A-Z]{2}-\d{2}|[A-Z]\d{1,2})$/;

/** Words of the id's shape that are not checklist ids. */
const NOT_CHECKLIST_IDS = new Set([
  'R0', // a refresh token, and R1 its successor, in the RT test titles
  'R1',
  'V8', // the JavaScript engine
  'X11', // inside a user-agent string of an example
  'P1', // port placeholders in docs/browser-notes.md
  'P2',
]);

/** A path of this repository, as the docs name them. */
const REPO_PATH = new RegExp(`^(?:${SCANNED.join('|')})/[^\\s\`]+$`);

function listFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(`${root}${dir}`, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!SKIPPED.has(entry.name) && !entry.name.startsWith('.')) listFiles(path, out);
    } else if (/\.(?:[cm]?[jt]s|md)$/.test(entry.name)) {
      out.push(path);
    }
  }
  return out;
}

const TEST_FUNCTIONS = new Set(['it', 'test', 'describe', 'suite', 'bench']);
const REGEX_AFTER_WORD = /(?:^|[^\w$])(?:return|typeof|case|do|else|in|of|new|delete|void|throw|yield|await)$/;

/**
 * The comments and the test titles (the first argument of `it`, `test`, `describe`, also through
 * `.each(...)`, `.skipIf(...)` and the like) of a JavaScript or TypeScript source. A small lexer
 * rather than the TypeScript parser, which takes seconds to load and parse the repository: it
 * skips strings, template literals and regular expressions, so that `//` in a URL or a quote in a
 * regex never starts a comment or a string.
 */
function commentsAndTitles(source: string): string[] {
  const found: string[] = [];
  // One entry per open parenthesis: the root name of the call, and whether an argument began.
  const calls: Array<{ callee: string; started: boolean }> = [];
  const space = /\s+/y;
  const plain = /[^\s/'"`(){}]+/y;
  let lastClosed = '';
  let previous = '';
  let i = 0;

  const argumentBegins = () => {
    const top = calls.at(-1);
    if (top) top.started = true;
  };
  const calleeBefore = (at: number): string => {
    let j = at - 1;
    while (j >= 0 && /\s/.test(source.charAt(j))) j--;
    if (source.charAt(j) === ')') return lastClosed; // it.each([...])('title', ...)
    const end = j + 1;
    while (j >= 0 && /[\w$.?]/.test(source.charAt(j))) j--;
    return /^[A-Za-z_$][\w$]*/.exec(source.slice(j + 1, end))?.[0] ?? '';
  };
  const regexMayStart = (): boolean =>
    previous === '' ||
    '(,=:[!&|?{};+-*%<>~^'.includes(previous) ||
    (/[\w$]/.test(previous) && REGEX_AFTER_WORD.test(source.slice(Math.max(0, i - 12), i).trimEnd()));
  const skipString = (quote: string) => {
    i++;
    while (i < source.length) {
      const c = source.charAt(i);
      if (c === '\\') {
        i += 2;
        continue;
      }
      i++;
      if (c === quote || c === '\n') return;
    }
  };
  const skipTemplate = () => {
    i++;
    while (i < source.length) {
      const c = source.charAt(i);
      if (c === '\\') {
        i += 2;
      } else if (c === '`') {
        i++;
        return;
      } else if (c === '$' && source.charAt(i + 1) === '{') {
        i += 2;
        code(true);
      } else {
        i++;
      }
    }
  };
  const skipRegex = () => {
    i++;
    let inClass = false;
    while (i < source.length) {
      const c = source.charAt(i);
      if (c === '\\') {
        i += 2;
        continue;
      }
      if (c === '\n') return;
      i++;
      if (inClass) inClass = c !== ']';
      else if (c === '[') inClass = true;
      else if (c === '/') break;
    }
    while (/[a-z]/.test(source.charAt(i))) i++;
  };

  /** Reads code up to the end, or up to the `}` that closes a template's `${`. */
  function code(untilBrace: boolean): void {
    let depth = 0;
    while (i < source.length) {
      const c = source.charAt(i);
      const next = source.charAt(i + 1);
      if (c === '/' && (next === '/' || next === '*')) {
        const end = next === '/' ? source.indexOf('\n', i) : source.indexOf('*/', i + 2);
        const stop = end === -1 ? source.length : next === '/' ? end : end + 2;
        found.push(source.slice(i, stop));
        i = stop;
        continue;
      }
      space.lastIndex = i;
      if (space.test(source)) {
        i = space.lastIndex;
        continue;
      }
      plain.lastIndex = i;
      if (plain.test(source)) {
        argumentBegins();
        i = plain.lastIndex;
        previous = source.charAt(i - 1);
        continue;
      }
      if (c === '"' || c === "'" || c === '`') {
        const top = calls.at(-1);
        const isTitle = top !== undefined && !top.started && TEST_FUNCTIONS.has(top.callee);
        argumentBegins();
        const start = i;
        if (c === '`') skipTemplate();
        else skipString(c);
        if (isTitle) found.push(source.slice(start, i));
        previous = c;
        continue;
      }
      if (c === '/' && regexMayStart()) {
        argumentBegins();
        skipRegex();
        previous = '/';
        continue;
      }
      if (c === '(') {
        argumentBegins();
        calls.push({ callee: calleeBefore(i), started: false });
      } else if (c === ')') {
        lastClosed = calls.pop()?.callee ?? '';
      } else {
        argumentBegins();
        if (c === '{') depth++;
        else if (c === '}') {
          if (untilBrace && depth === 0) {
            i++;
            return;
          }
          depth--;
        }
      }
      previous = c;
      i++;
    }
  }

  code(false);
  return found;
}

/** Every checklist id used in a test title, a comment or a doc, with the files that use it. */
function usedChecklistIds(): Map<string, Set<string>> {
  const used = new Map<string, Set<string>>();
  const files = SCANNED.filter((dir) => existsSync(`${root}${dir}`)).flatMap((dir) => listFiles(dir));
  for (const file of ['README.md', ...files]) {
    if (file === CHECKLIST) continue;
    const text = read(file);
    const pieces = file.endsWith('.md') ? [text] : commentsAndTitles(text);
    for (const piece of pieces) {
      for (const [id] of piece.matchAll(CHECKLIST_ID)) {
        if (NOT_CHECKLIST_IDS.has(id)) continue;
        const where = used.get(id) ?? new Set<string>();
        used.set(id, where.add(file));
      }
    }
  }
  return used;
}

function tableRows(doc: string): string[][] {
  return doc
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .map((line) =>
      line
        .split(/(?<!\\)\|/)
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}

function namedPaths(text: string): string[] {
  return [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string).filter((s) => REPO_PATH.test(s));
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The rows of the checklist page: checklist ids, and hardening items ("item N"). */
function checklistRows() {
  const rows = tableRows(checklistDoc).filter((cells) => !/^(?:Id|Item|-+)$/.test(cells[0] as string));
  return rows.map((cells) => {
    const key = cells[0] as string;
    const item = /^item (\d+)$/.exec(key)?.[1];
    const tested = cells.at(-1) as string;
    return {
      key,
      kind: item ? ('hardening' as const) : ID_CELL.test(key) ? ('checklist' as const) : ('unknown' as const),
      cells: cells.length,
      tested,
      paths: namedPaths(tested),
      // How a file that tests this row names it.
      mention: item ? new RegExp(`\\bitem ${item}\\b`, 'i') : new RegExp(`(?<![A-Za-z]-)\\b${escapeRegExp(key)}\\b`),
    };
  });
}

describe(CHECKLIST, () => {
  const rows = checklistRows();

  it('defines every checklist id that a test title, a code comment or a doc uses', () => {
    const used = usedChecklistIds();
    expect(used.size, 'the extractor finds the ids the repository uses').toBeGreaterThan(100);
    const defined = new Set(rows.map((row) => row.key));
    const undefinedIds = [...used]
      .filter(([id]) => !defined.has(id))
      .map(([id, files]) => `${id} (used in ${[...files].join(', ')})`);
    expect(undefinedIds).toEqual([]);
  });

  it('has one row per id with four cells, and hardening items 1 to 19', () => {
    expect(rows.filter((row) => row.kind === 'unknown' || row.cells !== 4).map((row) => row.key)).toEqual([]);
    const keys = rows.map((row) => row.key);
    expect(keys.filter((key, index) => keys.indexOf(key) !== index)).toEqual([]);
    const items = rows.filter((row) => row.kind === 'hardening').map((row) => row.key);
    expect(items).toEqual(Array.from({ length: 19 }, (_, n) => `item ${n + 1}`));
  });

  it('names where each row is tested: files that exist and mention the row ("pending" only for hardening items)', () => {
    const problems: string[] = [];
    for (const row of rows) {
      if (row.kind === 'hardening' && row.tested === 'pending') continue;
      if (row.paths.length === 0) problems.push(`${row.key}: no test file named`);
      for (const path of row.paths) {
        if (!existsSync(`${root}${path}`)) problems.push(`${row.key}: ${path} does not exist`);
        else if (!row.mention.test(read(path))) problems.push(`${row.key}: ${path} does not mention it`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('names only paths that exist, anywhere on the page', () => {
    const paths = namedPaths(checklistDoc);
    expect(paths.length).toBeGreaterThan(100);
    expect(paths.filter((path) => !existsSync(`${root}${path}`))).toEqual([]);
  });

  it('extracts ids from comments and test titles, never from other strings or regular expressions', () => {
    const source = [
      "import x from 'https://example.test/Q1';",
      '// Q2: a line comment',
      '/** Q3 in a block comment, and a range Q4-Q5 */',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a template literal
      "const re = /'Q6/; const t = `${f('Q7')} and Q8`;",
      "it('Q9: a title', () => expect(f('Z1')).toBe('Z2'));",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a template literal
      'describe.skipIf(!ok)(`ZZ-01 / Z3: a ${kind} title`, () => {});',
      "it.each([['Z4']])('ZZ-02 %s', (x) => x);",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a template literal
      "test(`${name}`, () => {}); f('Z5'); it(name, () => 'Z6');",
      "const ratio = a / b; it('ZZ-03 after a division', () => {}); // V-J1, V7.1.1, ES256, GA1.2",
    ].join('\n');
    const ids = commentsAndTitles(source).flatMap((piece) => [...piece.matchAll(CHECKLIST_ID)].map(([id]) => id));
    expect(ids).toEqual(['Q2', 'Q3', 'Q4', 'Q5', 'Q9', 'ZZ-01', 'Z3', 'ZZ-02', 'ZZ-03']);
  });
});

describe('docs/errors.md', () => {
  it('lists exactly the codes of errorCodes, with the status of errorStatus and the generic message of each', () => {
    const rows = tableRows(errorsDoc)
      .filter((cells) => /^`[A-Z_]+`$/.test(cells[0] as string))
      .map(([code, status, message]) => ({
        code: (code as string).slice(1, -1) as SessionErrorCode,
        status: Number(status),
        message,
      }));
    expect(rows.map((row) => row.code).sort()).toEqual([...errorCodes].sort());
    for (const row of rows) {
      expect({ status: row.status, message: row.message }, row.code).toEqual({
        status: errorStatus[row.code],
        message: defaultErrorMessage(row.code),
      });
    }
  });

  it('names only paths that exist', () => {
    expect(namedPaths(errorsDoc).filter((path) => !existsSync(`${root}${path}`))).toEqual([]);
  });
});
