#!/usr/bin/env node
'use strict';
// The `shmring` command: the compiled CLI lives in dist/lib/cli (built from lib/cli by `npm run build:ts`).
const path = require('path');

const entry = path.join(__dirname, '..', 'dist', 'lib', 'cli', 'main.js');
let cli;
try {
  cli = require(entry);
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes(entry)) {
    process.stderr.write(`shmring: ${entry} is missing: run \`npm run build:ts\` in the shmring checkout\n`);
    process.exit(1);
  }
  throw err;
}
cli.main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`shmring: internal error: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 1;
  },
);
