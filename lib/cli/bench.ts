/**
 * `shmring bench [...]`: runs the benchmark harness `bench/run.js` with the same flags as `npm run bench`. The
 * harness lives in a checkout of shmring, not in the installed package.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CliError, ExitCode, type CommandSpec } from './common';

/** `shmring bench`: its synopsis, help and options. */
export const spec: CommandSpec = {
  name: 'bench',
  synopsis: '[--quick] [--filter REGEX] [--json FILE] [--save] [--list]',
  description:
    'Runs the benchmark harness (bench/run.js, as `npm run bench`) from a checkout of shmring: every\n' +
    "case and contender in fresh processes, one table. Takes the harness's flags (below); the harness always\n" +
    'uses /dev/shm, so there is no --dir. The installed package does not ship bench/.',
  options: {
    quick: { type: 'boolean', help: 'reduced profile (well under a minute)' },
    filter: { type: 'string', value: 'REGEX', help: "only runs whose key matches, e.g. 'throughput/.*/32B'" },
    json: { type: 'string', value: 'FILE', help: 'also write the results as JSON to FILE' },
    save: { type: 'boolean', help: 'regenerate docs/benchmark.md and its charts' },
    list: { type: 'boolean', help: 'print the run keys and exit' },
  },
  positionals: { min: 0, max: 0, names: '' },
  noDir: true,
};

/** The directory of shmring's package.json above `from` (lib/cli in a checkout, dist/lib/cli once built). */
export function packageRoot(from = __dirname): string | null {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (manifest.name === 'shmring') return dir;
    } catch {
      // no package.json here (or not JSON): keep climbing
    }
    if (path.dirname(dir) === dir) return null;
  }
}

/** The harness script of the checkout this CLI runs from, or null when it is absent (an installed package). */
export function benchScript(root = packageRoot()): string | null {
  if (root === null) return null;
  const packageRoot = root;
  const script = path.join(packageRoot, 'bench', 'run.js');
  return fs.existsSync(script) ? script : null;
}

/** Runs the harness with `args` (already checked by parseArgs), passing its exit code through. */
export function run(args: string[], script = benchScript()): Promise<number> {
  if (script === null) {
    throw new CliError(
      ExitCode.FAILURE,
      'the benchmark harness is not installed: bench/ ships only in a checkout ' +
        '(git clone the shmring repository, npm install, then run shmring bench or npm run bench there)',
    );
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal === null ? ExitCode.FAILURE : 128 + (signal === 'SIGINT' ? 2 : 15)));
    });
  });
}
