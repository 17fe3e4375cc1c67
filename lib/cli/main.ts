/**
 * The `shmring` command: `shmring <command> [options]`. Dispatches to one module per command and turns what they
 * throw into one line on stderr and an exit code (docs/cli.md). `bin/shmring.js` calls `main`.
 */
import fs from 'node:fs';
import * as bench from './bench';
import * as bridge from './bridge';
import {
  CliError,
  ExitCode,
  describeError,
  helpText,
  parseCommand,
  ringPath,
  usage,
  type CommandSpec,
  type Output,
  type Parsed,
} from './common';
import * as create from './create';
import * as gc from './gc';
import * as list from './list';
import * as rm from './rm';
import * as stat from './stat';
import * as tail from './tail';

const COMMANDS: CommandSpec[] = [
  list.spec,
  stat.spec,
  tail.spec,
  create.spec,
  rm.spec,
  gc.spec,
  bridge.spec,
  bench.spec,
];

const SUMMARIES: Record<string, string> = {
  list: 'every ring in the directory: mode, capacity, producer, consumers, size, status',
  stat: 'one ring: producer and consumer positions, lag; --watch for rates',
  tail: 'join as a consumer and print messages as they arrive',
  create: 'create a ring with no producer',
  rm: 'remove a ring file',
  gc: 'remove rings no live process uses',
  bridge: "carry a ring's messages to or from NATS / JetStream (docs/bridge.md)",
  bench: 'run the benchmark harness (from a checkout)',
};

/** The top-level `--help`. */
export function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: shmring <command> [options]',
    '',
    'Inspect, tail and clean up shmring rings (files in /dev/shm, or --dir DIR).',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${SUMMARIES[c.name]}`),
    '',
    'Every command takes --dir DIR and --help. Exit codes: 0 ok, 1 failure, 2 bad usage, 3 no such ring,',
    '4 not a ring, 5 incompatible version, 6 permission denied, 7 exists or in use (see docs/cli.md).',
    '',
  ].join('\n');
}

/** The process's streams. */
const processOutput: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** Where a failure happened, for the error line: the ring path once the arguments are parsed. */
interface Context {
  path?: string;
  dir?: string;
}

async function dispatch(command: string, args: string[], output: Output, context: Context): Promise<number> {
  const spec = COMMANDS.find((c) => c.name === command);
  if (spec === undefined) throw usage('', `unknown command '${command}'`);
  const parsed: Parsed = command === 'stat' ? stat.parse(args) : parseCommand(spec, args);
  if (parsed.values.help) {
    output.out(helpText(spec));
    return ExitCode.OK;
  }
  context.dir = parsed.values.dir;
  const ringName = command === 'bridge' ? parsed.positionals[1] : parsed.positionals[0];
  if (ringName !== undefined) context.path = ringPath(parsed.values.dir, ringName);
  switch (command) {
    case 'list':
      return list.run(parsed, output);
    case 'stat':
      return stat.run(parsed, output, process.stdout.isTTY === true);
    case 'tail':
      return tail.run(parsed, process.stdout);
    case 'create':
      return create.run(parsed, output);
    case 'rm':
      return rm.run(parsed, output);
    case 'gc':
      return gc.run(parsed, output);
    case 'bridge':
      return bridge.run(parsed, output);
    default:
      if (args.some((a) => a === '--dir' || a.startsWith('--dir='))) {
        throw usage('bench', '--dir is not a bench option: the harness uses /dev/shm');
      }
      return bench.run(args);
  }
}

/** Runs the command line `argv` (without `node` and the script) and resolves with the exit code. */
export async function main(argv: string[], output: Output = processOutput): Promise<number> {
  const [command, ...args] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    if (command === undefined) {
      output.err(topHelp());
      return ExitCode.USAGE;
    }
    output.out(topHelp());
    return ExitCode.OK;
  }
  const context: Context = {};
  try {
    return await dispatch(command, args, output, context);
  } catch (err) {
    const known = COMMANDS.some((c) => c.name === command) ? command : '';
    const missingDir =
      (err as { code?: string }).code === 'ENOENT' && context.dir !== undefined && !fs.existsSync(context.dir);
    const { message, exitCode } = missingDir
      ? describeError(known, new CliError(ExitCode.NOT_FOUND, `no such directory: ${context.dir}`))
      : describeError(known, err, context.path);
    output.err(`${message}\n`);
    return exitCode;
  }
}
