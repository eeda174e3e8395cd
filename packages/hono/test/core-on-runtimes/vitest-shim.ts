// The part of vitest's API that core's pure test files use (describe/it/hooks with .each, .skip,
// .skipIf, .runIf, .todo, and vitest's own `expect` from @vitest/expect), so the same files run
// unchanged under Bun and Deno. The bundler maps `vitest` here; the Node-side vitest test that
// spawns the runtime counts the results, so CI counts them too.
import {
  chai,
  GLOBAL_EXPECT,
  getState,
  JestAsymmetricMatchers,
  JestChaiExpect,
  JestExtend,
  setState,
} from '@vitest/expect';

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

type Fn = () => unknown;
interface Test {
  name: string;
  fn: Fn | null;
}
interface Suite {
  name: string;
  skip: boolean;
  children: Array<Test | Suite>;
  beforeAll: Fn[];
  afterAll: Fn[];
  beforeEach: Fn[];
  afterEach: Fn[];
}
const newSuite = (name: string, skip = false): Suite => ({
  name,
  skip,
  children: [],
  beforeAll: [],
  afterAll: [],
  beforeEach: [],
  afterEach: [],
});
const root = newSuite('');
let current = root;

function format(template: string, row: unknown, index: number): string {
  const args = Array.isArray(row) ? [...row] : [row];
  let out = template.replace(/%[sdifjo%#]/g, (token) => {
    if (token === '%%') return '%';
    if (token === '%#') return String(index);
    const value = args.shift();
    if (token === '%j' || token === '%o') return JSON.stringify(value);
    return String(value);
  });
  if (row && typeof row === 'object' && !Array.isArray(row)) {
    out = out.replace(/\$([A-Za-z_][\w.]*)/g, (_, key: string) => String(Reflect.get(row, key)));
  }
  return out;
}

function addTest(name: string, fn: Fn | undefined, skip: boolean) {
  current.children.push({ name, fn: skip || !fn ? null : fn });
}
function addSuite(name: string, fn: Fn, skip: boolean) {
  const suite = newSuite(name, skip);
  current.children.push(suite);
  const parent = current;
  current = suite;
  try {
    fn();
  } finally {
    current = parent;
  }
}

type Each<T> = (table: readonly unknown[]) => (name: string, fn: (...args: never[]) => unknown) => T;
function withModifiers<T>(add: (name: string, fn: Fn | undefined, skip: boolean) => T) {
  const base = (name: string, fn?: Fn) => add(name, fn, false);
  const each: Each<void> = (table) => (name, fn) => {
    table.forEach((row, i) => {
      const args = Array.isArray(row) ? row : [row];
      add(format(name, row, i), () => (fn as (...a: unknown[]) => unknown)(...args), false);
    });
  };
  return Object.assign(base, {
    skip: (name: string, fn?: Fn) => add(name, fn, true),
    only: base,
    concurrent: base,
    sequential: base,
    todo: (name: string) => add(name, undefined, true),
    skipIf: (condition: unknown) => (name: string, fn?: Fn) => add(name, fn, Boolean(condition)),
    runIf: (condition: unknown) => (name: string, fn?: Fn) => add(name, fn, !condition),
    each,
  });
}

export const it = withModifiers((name, fn, skip) => addTest(name, fn, skip));
export const test = it;
export const describe = withModifiers((name, fn, skip) => addSuite(name, fn ?? (() => {}), skip));
export const suite = describe;
export const beforeAll = (fn: Fn) => current.beforeAll.push(fn);
export const afterAll = (fn: Fn) => current.afterAll.push(fn);
export const beforeEach = (fn: Fn) => current.beforeEach.push(fn);
export const afterEach = (fn: Fn) => current.afterEach.push(fn);

// biome-ignore lint/suspicious/noExplicitAny: chai's typing of the Jest-style expect is loose.
export const expect: any = (value: unknown, message?: string) => {
  const state = getState(expect);
  setState({ assertionCalls: state.assertionCalls + 1 }, expect);
  return chai.expect(value, message);
};
Object.assign(expect, chai.expect);
expect.getState = () => getState(expect);
expect.setState = (state: object) => setState(state, expect);
// JestExtend adds `extend` to chai.expect at run time; chai's types do not know it.
const chaiExpect = chai.expect as unknown as { extend(target: unknown, matchers: object): void };
expect.extend = (matchers: object) => chaiExpect.extend(expect, matchers);
expect.unreachable = (message?: string) => {
  throw new Error(`expected the code not to be reached${message ? `: ${message}` : ''}`);
};
setState(
  {
    assertionCalls: 0,
    isExpectingAssertions: false,
    isExpectingAssertionsError: null,
    expectedAssertionsNumber: null,
    expectedAssertionsNumberErrorGen: null,
    currentTestName: '',
  },
  expect,
);
Reflect.set(globalThis, GLOBAL_EXPECT, expect);

// Type-level assertions: checked by tsc on Node, nothing to do at run time.
// biome-ignore lint/suspicious/noExplicitAny: accepts any chain of matcher calls.
const typeLevel: any = new Proxy(() => typeLevel, { get: () => typeLevel, apply: () => typeLevel });
export const expectTypeOf = (_value?: unknown) => typeLevel;
export const assertType = (_value: unknown) => {};

export interface ShimResult {
  passed: number;
  failed: number;
  skipped: number;
  failures: Array<{ name: string; message: string }>;
  /** Every test by its full name (suites joined with ' > '), in order, with its outcome. */
  cases: ShimCase[];
}

export interface ShimCase {
  name: string;
  status: 'passed' | 'failed' | 'skipped';
  message?: string;
}

/** The full names of the tests registered so far, in order, and whether each is skipped. */
export function list(): Array<{ name: string; skip: boolean }> {
  const names: Array<{ name: string; skip: boolean }> = [];
  const visit = (suite: Suite, path: string[], skipped: boolean) => {
    for (const child of suite.children) {
      const name = [...path, child.name];
      if ('children' in child) visit(child, name, skipped || child.skip);
      else names.push({ name: name.join(' > '), skip: skipped || !child.fn });
    }
  };
  visit(root, [], false);
  return names;
}

/** Runs everything registered so far, in order, and returns the counts. */
export async function run(): Promise<ShimResult> {
  const result: ShimResult = { passed: 0, failed: 0, skipped: 0, failures: [], cases: [] };
  const skipAll = (node: Test | Suite, path: string[]): void => {
    if ('children' in node) for (const child of node.children) skipAll(child, [...path, child.name]);
    else {
      result.skipped++;
      result.cases.push({ name: path.join(' > '), status: 'skipped' });
    }
  };
  async function visit(suite: Suite, path: string[], eachHooks: { before: Fn[]; after: Fn[] }) {
    const hooks = {
      before: [...eachHooks.before, ...suite.beforeEach],
      after: [...suite.afterEach, ...eachHooks.after],
    };
    try {
      for (const hook of suite.beforeAll) await hook();
    } catch (error) {
      result.failed++;
      const message = String(error);
      result.failures.push({ name: [...path, '(beforeAll)'].join(' > '), message });
      // Every test of the suite fails with the hook's error.
      for (const test of list().filter((t) => t.name.startsWith(`${path.join(' > ')} > `))) {
        result.cases.push({ name: test.name, status: 'failed', message: `beforeAll failed: ${message}` });
      }
      return;
    }
    for (const child of suite.children) {
      const name = [...path, child.name];
      if ('children' in child) {
        if (child.skip) skipAll(child, name);
        else await visit(child, name, hooks);
        continue;
      }
      if (!child.fn) {
        result.skipped++;
        result.cases.push({ name: name.join(' > '), status: 'skipped' });
        continue;
      }
      setState({ currentTestName: name.join(' > ') }, expect);
      try {
        for (const hook of hooks.before) await hook();
        await child.fn();
        for (const hook of hooks.after) await hook();
        result.passed++;
        result.cases.push({ name: name.join(' > '), status: 'passed' });
      } catch (error) {
        result.failed++;
        const message = error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error);
        result.failures.push({ name: name.join(' > '), message: message.slice(0, 2000) });
        result.cases.push({ name: name.join(' > '), status: 'failed', message: message.slice(0, 2000) });
      }
    }
    for (const hook of suite.afterAll) await hook();
  }
  await visit(root, [], { before: [], after: [] });
  return result;
}
