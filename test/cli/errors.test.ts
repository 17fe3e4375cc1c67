/**
 * A user's mistake is one line on stderr (`shmring <command>: ...`) and a documented exit code, never a stack trace:
 * no such ring (3), not a ring (4), incompatible version (5), permission denied (6), bad usage (2). Every command
 * answers --help; `bench` outside a checkout says where the harness is.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { describe, expect, it } from 'vitest';
import { Subscription, createRing } from '../../lib/index';
import { benchScript, run as runBench } from '../../lib/cli/bench';
import { CliError, ExitCode } from '../../lib/cli/common';
import { main } from '../../lib/cli/main';
import * as L from '../../lib/layout';
import { closeAfterTest, privateShmDir } from '../helpers/ring-env';
import { shmring, type Result } from './cli-env';

const COMMANDS = ['list', 'stat', 'tail', 'create', 'rm', 'gc', 'bench'];
const NOBODY = 65534;

/** Exactly one line on stderr, nothing on stdout, no stack frame. */
function expectOneLine(result: Result, code: number, line: RegExp): void {
  expect(result.stdout).toBe('');
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stderr.split('\n')).toHaveLength(2);
  expect(result.stderr).toMatch(line);
  expect(result.code).toBe(code);
}

describe('shmring errors', () => {
  it('says "no such ring" with exit 3 for stat, tail and rm, and "no such directory" for a missing --dir', async () => {
    const dir = privateShmDir('cli-enoent');
    const commands = ['stat', 'tail', 'rm'];
    const results = await Promise.all(commands.map((command) => shmring([command, 'nope', '--dir', dir])));
    commands.forEach((command, i) =>
      expectOneLine(results[i], 3, new RegExp(`^shmring ${command}: no such ring: ${dir}/nope\n$`)),
    );
    const missing = [['list'], ['stat', 'x'], ['gc']];
    const missed = await Promise.all(missing.map((args) => shmring([...args, '--dir', `${dir}/missing`])));
    missing.forEach((args, i) =>
      expectOneLine(missed[i], 3, new RegExp(`^shmring ${args[0]}: no such directory: ${dir}/missing\n$`)),
    );
  });

  it('says "not a ring" with exit 4 for a foreign file', async () => {
    const dir = privateShmDir('cli-foreign');
    fs.writeFileSync(path.join(dir, 'junk'), Buffer.alloc(L.PAGE_LENGTH, 1));
    for (const command of ['stat', 'tail']) {
      expectOneLine(
        await shmring([command, 'junk', '--dir', dir]),
        4,
        new RegExp(`^shmring ${command}: not a ring: .*bad magic`),
      );
    }
  });

  it('says "incompatible version" with exit 5 and shows both versions', async () => {
    const dir = privateShmDir('cli-version');
    createRing('future', { dir });
    const word = Buffer.alloc(4);
    word.writeInt32LE((3 << 16) | 3);
    const fd = fs.openSync(path.join(dir, 'future'), 'r+');
    fs.writeSync(fd, word, 0, 4, L.VERSION_OFFSET);
    fs.closeSync(fd);
    expectOneLine(
      await shmring(['stat', 'future', '--dir', dir]),
      5,
      new RegExp(`^shmring stat: incompatible version: .*app=${L.VERSION_MAJOR}\\.${L.VERSION_MINOR} file=3\\.3`),
    );
  });

  it('says "permission denied" with exit 6 to a user who may not open the ring or read the directory', async () => {
    const dir = privateShmDir('cli-eacces'); // 0700, owned by root
    createRing('private', { dir });
    const asNobody = { uid: NOBODY, gid: NOBODY };
    expectOneLine(
      await shmring(['stat', 'private', '--dir', dir], asNobody),
      6,
      new RegExp(`^shmring stat: permission denied: ${dir}/private\n$`),
    );
    expectOneLine(
      await shmring(['list', '--dir', dir], asNobody),
      6,
      new RegExp(`^shmring list: permission denied: ${dir}\n$`),
    );
  });

  it('says every consumer slot is taken with exit 7 when tail cannot join', async () => {
    const dir = privateShmDir('cli-no-slot');
    createRing('full', { dir, maxConsumers: 1 });
    closeAfterTest(Subscription.open('full', { dir }));
    expectOneLine(
      await shmring(['tail', 'full', '--dir', dir]),
      7,
      new RegExp(`^shmring tail: all consumer slots are taken by live consumers: maxConsumers=1: ${dir}/full\n$`),
    );
  });

  it('says what is wrong with a bad command, option or argument, with exit 2 and a pointer to --help', async () => {
    const dir = privateShmDir('cli-usage');
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /^shmring: unknown command 'frobnicate' \(see shmring --help\)\n$/],
      [['stat'], /^shmring stat: missing NAME \(see shmring stat --help\)\n$/],
      [['stat', 'a', 'b'], /^shmring stat: unexpected argument 'b' \(see shmring stat --help\)\n$/],
      [['list', '--bogus'], /^shmring list: Unknown option '--bogus' \(see shmring list --help\)\n$/],
      [['tail', 'x', '--from', 'middle'], /^shmring tail: --from must be one of earliest, latest: --from=middle/],
      [['tail', 'x', '--format', 'xml'], /^shmring tail: --format must be one of hex, utf8, json: --format=xml/],
      [['tail', 'x', '--count', '0'], /^shmring tail: --count must be a positive integer: --count=0/],
      [['create', 'x', '--capacity', 'big'], /^shmring create: --capacity must be a size such as 65536, 64k or 1m/],
      [
        ['create', 'x', '--mode', 'lossy'],
        /^shmring create: --mode must be one of reliable, broadcast, many-to-one: --mode=lossy/,
      ],
      [['create', 'a/b'], /^shmring create: name must not contain '\/'/],
      [['gc', '--older-than', 'soon'], /^shmring gc: --older-than must be a duration such as 30s, 10m, 2h or 7d/],
      [['stat', 'x', '--watch=0'], /^shmring stat: --watch must be a number of seconds, at least 0\.1: --watch=0/],
      [['bench', '--dir', dir], /^shmring bench: --dir is not a bench option/],
    ];
    // Every message through main() in this process (the dispatch the command runs), then a few as real processes
    // for the exit status and the absence of a stack trace.
    for (const [args, line] of cases) {
      const withDir = args[0] === 'bench' || args[0] === 'frobnicate' ? args : [...args, '--dir', dir];
      let stdout = '';
      let stderr = '';
      const code = await main(withDir, {
        out: (t) => {
          stdout += t;
        },
        err: (t) => {
          stderr += t;
        },
      });
      expectOneLine({ code, signal: null, stdout, stderr }, ExitCode.USAGE, line);
    }
    const [unknown, badOption, bare] = await Promise.all([
      shmring(cases[0][0]),
      shmring([...cases[4][0], '--dir', dir]),
      shmring([]),
    ]);
    expectOneLine(unknown, ExitCode.USAGE, cases[0][1]);
    expectOneLine(badOption, ExitCode.USAGE, cases[4][1]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^Usage: shmring <command> \[options\]/);
  });

  it('answers --help on every command and at the top level with exit 0', async () => {
    // As real processes: the top level and one command; every command through main() in this process.
    const [top, statHelp] = await Promise.all([shmring(['--help']), shmring(['stat', '-h'])]);
    expect(top.code).toBe(0);
    for (const command of COMMANDS) expect(top.stdout).toContain(`\n  ${command} `);
    expect(statHelp).toMatchObject({ code: 0, stderr: '' });
    expect(statHelp.stdout).toMatch(/^Usage: shmring stat NAME/);
    for (const command of COMMANDS) {
      const help = { code: -1, stdout: '', stderr: '' };
      const output = {
        out: (t: string) => {
          help.stdout += t;
        },
        err: (t: string) => {
          help.stderr += t;
        },
      };
      help.code = await main([command, '--help'], output);
      expect(help.stderr).toBe('');
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: shmring ${command} `));
      if (command !== 'bench') expect(help.stdout).toContain('--dir DIR');
      expect(help.stdout).toContain('-h, --help');
    }
  });
});

describe('shmring bench', () => {
  it('finds the harness in this checkout and reports a clear error where bench/ is absent', () => {
    expect(benchScript()).toBe(path.resolve(__dirname, '..', '..', 'bench', 'run.js'));
    const installed = fs.mkdtempSync(path.join(os.tmpdir(), 'shmring-installed-'));
    try {
      expect(benchScript(installed)).toBeNull();
      expect(() => runBench([], benchScript(installed))).toThrow(CliError);
      expect(() => runBench([], null)).toThrow(
        /the benchmark harness is not installed: bench\/ ships only in a checkout/,
      );
    } finally {
      fs.rmSync(installed, { recursive: true, force: true });
    }
  });
});
