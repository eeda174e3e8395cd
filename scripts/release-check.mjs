#!/usr/bin/env node
// The release pipeline as a dry run (CI): every changed package has a changeset, `changeset version`
// on a scratch worktree of HEAD produces 0.1.0-or-later versions and readable changelogs, and every
// published package packs and passes `pnpm publish --dry-run` (workspace ranges rewritten). Run after
// `pnpm build`. `pnpm release` runs the same gates and then publishes for real.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const changeset = join(root, 'node_modules/@changesets/cli/bin.js');
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, {
    cwd,
    stdio: 'pipe',
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, CI: 'true' },
  });

const published = (dir) =>
  readdirSync(join(dir, 'packages'))
    .map((name) => ({ name, manifest: JSON.parse(readFileSync(join(dir, 'packages', name, 'package.json'), 'utf8')) }))
    .filter(({ manifest }) => !manifest.private);

let failures = 0;
function step(label, fn) {
  try {
    const detail = fn();
    console.log(`ok   ${label}${detail ? `: ${detail}` : ''}`);
  } catch (error) {
    failures++;
    console.log(`FAIL ${label}`);
    console.log(
      String(`${error.stdout ?? ''}${error.stderr ?? ''}` || error.message)
        .split('\n')
        .slice(-20)
        .join('\n'),
    );
  }
}

step('changeset status (every changed package has a changeset)', () => {
  run('node', [changeset, 'status'], root);
});

const scratch = mkdtempSync(join(tmpdir(), 'release-check-'));
const worktree = join(scratch, 'tree');
try {
  run('git', ['worktree', 'add', '--detach', worktree, 'HEAD'], root);
  step('changeset version on a scratch worktree', () => {
    const pending = readdirSync(join(worktree, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md');
    if (pending.length === 0) return 'no pending changesets';
    run('node', [changeset, 'version'], worktree);
    const problems = [];
    for (const { name, manifest } of published(worktree)) {
      const [major, minor] = manifest.version.split('.').map(Number);
      if (major === 0 && minor < 1) problems.push(`${manifest.name} would be ${manifest.version}, expected >= 0.1.0`);
      const changelog = join(worktree, 'packages', name, 'CHANGELOG.md');
      if (!existsSync(changelog)) problems.push(`${manifest.name} has no CHANGELOG.md`);
      else if (!readFileSync(changelog, 'utf8').includes(`## ${manifest.version}`))
        problems.push(`${manifest.name}'s CHANGELOG.md has no section for ${manifest.version}`);
    }
    if (problems.length > 0) throw new Error(problems.join('\n'));
    return `${pending.length} changesets -> ${published(worktree)
      .map(({ manifest }) => `${manifest.name}@${manifest.version}`)
      .join(', ')}`;
  });
} finally {
  try {
    run('git', ['worktree', 'remove', '--force', worktree], root);
  } catch {}
  rmSync(scratch, { recursive: true, force: true });
}

for (const { name, manifest } of published(root)) {
  step(`${manifest.name}: pnpm publish --dry-run`, () => {
    const out = run('pnpm', ['publish', '--dry-run', '--no-git-checks', '--json'], join(root, 'packages', name));
    const packed = JSON.parse(out.slice(out.indexOf('{')));
    const text = JSON.stringify(packed);
    if (text.includes('workspace:')) throw new Error('a workspace: range would be published');
    return `${packed.files?.length ?? '?'} files`;
  });
}

if (failures > 0) {
  console.log(`\n${failures} release check(s) failed`);
  process.exit(1);
}
