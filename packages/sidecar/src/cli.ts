#!/usr/bin/env node
import { runCli } from './run.js';

runCli(process.argv.slice(2), process.env, {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
}).then((status) => process.exit(status));
