#!/usr/bin/env node
// Reads vitest's JSON report and prints the one line CI is judged by:
// `N passed, N failed` (plus `, N skipped` when any were skipped). A missing or unreadable
// report counts as one failure: a run that produced no results did not pass.
import { readFileSync } from 'node:fs';

const [reportPath, ...extraFailures] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const report = JSON.parse(readFileSync(reportPath, 'utf8'));
  passed = report.numPassedTests ?? 0;
  failed = report.numFailedTests ?? 0;
  skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // Suites that failed to load (a syntax error, a failing beforeAll) have no failed tests of their own.
  const brokenFiles = (report.testResults ?? []).filter(
    (file) => file.status === 'failed' && file.assertionResults?.every((a) => a.status !== 'failed'),
  );
  failed += brokenFiles.length;
  // Unhandled errors fail the run without failing a test: count them once.
  if (report.success === false && failed === 0) failed = 1;
} catch {
  failed += 1;
}
// Non-test gates (lint, typecheck, packaging) that failed count as failures too.
failed += extraFailures.filter(Boolean).length;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 ? 0 : 1);
