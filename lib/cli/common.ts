/**
 * What every `shmring` command shares: argument parsing (`node:util` parseArgs with `--help` and `--dir`), the
 * error-to-exit-code mapping (one line on stderr, no stack trace for a user's mistake), and value formatting.
 * Nothing in the library imports this directory.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ErrorCode } from '../errors';
import { DEFAULT_DIR } from '../segment';

/** Process exit codes, documented in docs/cli.md. */
export const ExitCode = {
  OK: 0,
  /** Any other failure (a system error such as ENOSPC, `bench` outside a checkout, an internal error). */
  FAILURE: 1,
  /** Bad command, option or argument. */
  USAGE: 2,
  /** No such ring (or no such directory). */
  NOT_FOUND: 3,
  /** The file is not a ring, is corrupt, or was never finished. */
  NOT_A_RING: 4,
  /** The ring's layout major version is not this shmring's. */
  VERSION: 5,
  /** Permission denied. */
  PERMISSION: 6,
  /** The ring exists already, is in use, or has no free consumer slot. */
  CONFLICT: 7,
} as const;

/** One of the `ExitCode` values. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An error meant for the user: printed as one line, the process exits with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: ExitCodeValue;

  constructor(exitCode: ExitCodeValue, message: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Where a command writes: the real streams, or buffers in tests. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

/** How a command is described and parsed. */
export interface CommandSpec {
  name: string;
  /** One line: `NAME [--watch [SECONDS]] [--json]` etc. */
  synopsis: string;
  /** A few lines shown by `--help`. */
  description: string;
  /** Options besides `--help` and `--dir`, with their help text and (string options) the value's name in it. */
  options: Record<string, { type: 'string' | 'boolean'; short?: string; value?: string; help: string }>;
  /** The command has no `--dir` (bench: the harness always uses /dev/shm). */
  noDir?: boolean;
  /** How many positionals the command takes. */
  positionals: { min: number; max: number; names: string };
}

/** Options every command has. */
export interface CommonValues {
  help: boolean;
  dir: string;
}

/** Parsed arguments: option values by name and the positionals. */
export interface Parsed {
  values: Record<string, string | boolean | undefined> & CommonValues;
  positionals: string[];
}

/** The `--help` text of a command. */
export function helpText(spec: CommandSpec): string {
  const lines = [`Usage: shmring ${spec.name} ${spec.synopsis}`.trimEnd(), '', spec.description, '', 'Options:'];
  const rows: Array<[string, string]> = Object.entries(spec.options).map(([name, o]) => [
    `${o.short === undefined ? '' : `-${o.short}, `}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`,
    o.help,
  ]);
  if (spec.noDir !== true) rows.push([`--dir DIR`, `directory of ring files (default ${DEFAULT_DIR})`]);
  rows.push(['-h, --help', 'show this help']);
  const width = Math.max(...rows.map(([left]) => left.length));
  for (const [left, right] of rows) lines.push(`  ${left.padEnd(width)}  ${right}`);
  return `${lines.join('\n')}\n`;
}

/** Parses `args` for `spec`; a parse failure is a usage error naming the command. */
export function parseCommand(spec: CommandSpec, args: string[]): Parsed {
  const options: NonNullable<ParseArgsConfig['options']> = {
    help: { type: 'boolean', short: 'h' },
    dir: { type: 'string' },
  };
  for (const [name, o] of Object.entries(spec.options)) {
    options[name] = o.short === undefined ? { type: o.type } : { type: o.type, short: o.short };
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw usage(spec.name, (err as Error).message.split('\n')[0].replace(/\. To specify a positional.*$/, ''));
  }
  const values = parsed.values as Parsed['values'];
  values.help = values.help === true;
  values.dir = typeof values.dir === 'string' ? values.dir : DEFAULT_DIR;
  if (values.dir === '') throw usage(spec.name, '--dir must not be empty');
  if (!values.help) {
    const count = parsed.positionals.length;
    if (count < spec.positionals.min) throw usage(spec.name, `missing ${spec.positionals.names}`);
    if (count > spec.positionals.max) {
      throw usage(spec.name, `unexpected argument '${parsed.positionals[spec.positionals.max]}'`);
    }
  }
  return { values, positionals: parsed.positionals };
}

/** A usage error that points at the command's `--help`. */
export function usage(command: string, message: string): CliError {
  const help = command === '' ? 'shmring --help' : `shmring ${command} --help`;
  return new CliError(ExitCode.USAGE, `${message} (see ${help})`);
}

/** Parses a positive integer with an optional binary suffix: 4096, 64k, 1m, 1g (case-insensitive, `KiB` too). */
export function parseSize(command: string, option: string, text: string): number {
  const match = /^(\d+)\s*([kmg]?)(?:i?b)?$/i.exec(text.trim());
  if (match === null) throw usage(command, `${option} must be a size such as 65536, 64k or 1m: ${option}=${text}`);
  const shift = { '': 0, k: 10, m: 20, g: 30 }[match[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(match[1]) * 2 ** shift;
}

/** Parses a positive integer. */
export function parseCount(command: string, option: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw usage(command, `${option} must be a positive integer: ${option}=${text}`);
  }
  return Number(text);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration in milliseconds: `500ms`, `30s`, `10m`, `2h`, `7d`; a bare number is seconds. */
export function parseDuration(command: string, option: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (match === null) {
    throw usage(command, `${option} must be a duration such as 30s, 10m, 2h or 7d: ${option}=${text}`);
  }
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2] ?? 's']);
}

/** Checks a value against a list of choices. */
export function parseChoice<T extends string>(command: string, option: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw usage(command, `${option} must be one of ${choices.join(', ')}: ${option}=${text}`);
  }
  return text as T;
}

/** Bytes for people: `1 MiB`, `1.5 MiB`, `512 B`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = Number.isInteger(value) || value >= 10 ? value.toFixed(0) : value.toFixed(1);
  return `${shown} ${units[unit]}`;
}

/** A rate for people: `12.3 MiB/s`. */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

/** Milliseconds for people: `850 ms`, `12 s`, `3 min`, `5 h`, `2 d`. */
export function formatAge(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

/** A number, with a unit if any: `4096`, `1.5 MiB`, `12 KiB/s`, `98.1`, `200 ms`. */
const NUMERIC_CELL = /^[-+]?[\d.,]+( ?[%A-Za-z/]*)?$/;

/** Left-aligned columns separated by two spaces; numbers right-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const numeric = header.map(
    (_, i) => rows.some((r) => r[i] !== '-') && rows.every((r) => r[i] === '-' || NUMERIC_CELL.test(r[i])),
  );
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** A system error's shape (errno name as `code`). */
interface CodedError extends Error {
  code?: string;
  path?: string;
}

/**
 * Turns an error a command threw into the line to print and the exit code. A user's mistake (no such ring, not a
 * ring, permission, version, bad argument) is one line; anything else is reported as an internal error.
 */
export function describeError(
  command: string,
  err: unknown,
  ringPath?: string,
): { message: string; exitCode: ExitCodeValue } {
  const prefix = command === '' ? 'shmring: ' : `shmring ${command}: `;
  if (err instanceof CliError) return { message: prefix + err.message, exitCode: err.exitCode };
  const e = err as CodedError;
  const NOT_A_RING = ExitCode.NOT_A_RING;
  const where = e.path ?? ringPath ?? '';
  const at = where === '' ? '' : `: ${where}`;
  switch (e.code) {
    case 'ENOENT':
      return { message: `${prefix}no such ring${at}`, exitCode: ExitCode.NOT_FOUND };
    case 'EACCES':
    case 'EPERM':
      return { message: `${prefix}permission denied${at}`, exitCode: ExitCode.PERMISSION };
    case 'EEXIST':
      return { message: `${prefix}a file of that name exists already${at}`, exitCode: ExitCode.CONFLICT };
    case 'ELOOP':
      return { message: `${prefix}not a ring (a symbolic link)${at}`, exitCode: ExitCode.NOT_A_RING };
    case 'EISDIR':
      return { message: `${prefix}not a ring (a directory)${at}`, exitCode: ExitCode.NOT_A_RING };
    case ErrorCode.NOT_A_RING:
    case ErrorCode.NOT_REGULAR_FILE:
      return { message: `${prefix}not a ring: ${withoutLead(e, 'not a shmring ring: ', where)}`, exitCode: NOT_A_RING };
    case ErrorCode.CORRUPT:
      return { message: `${prefix}corrupt ring: ${withoutLead(e, 'ring is corrupt: ', where)}`, exitCode: NOT_A_RING };
    case ErrorCode.NOT_READY:
      return {
        message:
          `${prefix}not a ring: its header was never completed (a ring still being created, or a file of ` +
          `zeros): ${where}`,
        exitCode: NOT_A_RING,
      };
    case ErrorCode.VERSION_MISMATCH:
      return {
        message: `${prefix}incompatible version: ${withoutLead(e, 'incompatible ring layout: ', where)}`,
        exitCode: ExitCode.VERSION,
      };
    case ErrorCode.NO_CONSUMER_SLOT:
    case ErrorCode.PRODUCER_EXISTS:
      return { message: `${prefix}${withoutLead(e, '', where)}`, exitCode: ExitCode.CONFLICT };
    default:
      break;
  }
  if (err instanceof TypeError || err instanceof RangeError) {
    // The library's argument checks: a name with '/', a capacity that is not a power of two...
    return { message: `${prefix}${e.message} (see shmring ${command} --help)`, exitCode: ExitCode.USAGE };
  }
  if (typeof e.code === 'string') return { message: `${prefix}${e.message}`, exitCode: ExitCode.FAILURE };
  const detail = process.env.SHMRING_DEBUG ? `\n${e.stack ?? ''}` : ' (set SHMRING_DEBUG=1 for the stack trace)';
  return { message: `${prefix}internal error: ${e.message ?? String(err)}${detail}`, exitCode: ExitCode.FAILURE };
}

/** A library error's message without the `lead` its CLI line already says, ending with the path. */
function withoutLead(e: CodedError, lead: string, where: string): string {
  const text = e.message.startsWith(lead) ? e.message.slice(lead.length) : e.message;
  return where === '' || text.includes(where) ? text : `${text}: ${where}`;
}

/** The path of `name` in `dir`, for messages. */
export function ringPath(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, '')}/${name}`;
}
