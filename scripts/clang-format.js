#!/usr/bin/env node
// Formats (or with --check, verifies) the addon's C++ with the repository's .clang-format. CI installs clang-format;
// a machine without it is told so and the C++ goes unchecked there (the TypeScript is still checked by Prettier).
'use strict';
const { spawnSync } = require('node:child_process');
const { readdirSync } = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const check = process.argv.includes('--check');
const sources = readdirSync(path.join(root, 'native'))
  .filter((name) => /\.(cc|h)$/.test(name))
  .map((name) => path.join('native', name));

const args = check ? ['--dry-run', '-Werror', ...sources] : ['-i', ...sources];
const run = spawnSync('clang-format', args, { cwd: root, stdio: 'inherit' });
if (run.error && run.error.code === 'ENOENT') {
  console.warn('clang-format is not installed: the C++ in native/ was not checked (apt-get install clang-format)');
  process.exit(0);
}
process.exit(run.status ?? 1);
