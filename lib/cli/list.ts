/** `shmring list`: every file in the ring directory, one line each; a file that is not a ring says so. */
import fs from 'node:fs';
import {
  CliError,
  ExitCode,
  describeError,
  formatBytes,
  ringPath,
  table,
  type CommandSpec,
  type Output,
  type Parsed,
} from './common';
import { readRingState } from './ring-state';

/** `shmring list`: its synopsis, help and options. */
export const spec: CommandSpec = {
  name: 'list',
  synopsis: '[--json]',
  description:
    'Lists every file in the ring directory: name, mode, capacity, producer (alive or dead, pid),\n' +
    'consumers alive/total, file size and status (in use, stale: nothing alive uses it, or why it is not a ring).',
  options: { json: { type: 'boolean', help: 'one JSON array instead of the table' } },
  positionals: { min: 0, max: 0, names: '' },
};

/** One row of `shmring list --json`. */
export interface ListEntry {
  name: string;
  path: string;
  /** 'in-use', 'stale' (no live producer or consumer: `shmring gc` removes it), or 'error'. */
  status: 'in-use' | 'stale' | 'error';
  mode: 'reliable' | 'broadcast' | 'many-to-one' | null;
  capacity: number | null;
  producer: { alive: boolean; pid: number; state: string } | null;
  consumers: { alive: number; total: number } | null;
  /** Bytes of the file. */
  size: number;
  /** Why the file could not be read as a ring (not a ring, other version, permission denied...). */
  error?: string;
}

/** Describes every regular file in `dir`. */
export function listDirectory(dir: string): ListEntry[] {
  let names: fs.Dirent[];
  try {
    names = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(ExitCode.NOT_FOUND, `no such directory: ${dir}`);
    if (code === 'ENOTDIR') throw new CliError(ExitCode.NOT_FOUND, `not a directory: ${dir}`);
    throw err;
  }
  const entries: ListEntry[] = [];
  for (const entry of names.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!entry.isFile()) continue;
    const path = ringPath(dir, entry.name);
    let size = 0;
    try {
      size = fs.statSync(path).size;
    } catch {
      continue; // removed meanwhile
    }
    try {
      const s = readRingState(entry.name, { dir, openTimeoutMs: 0 });
      const alive = s.consumers.filter((c) => c.alive).length;
      entries.push({
        name: entry.name,
        path,
        status: s.producer.alive || alive > 0 ? 'in-use' : 'stale',
        mode: s.mode,
        capacity: s.capacity,
        producer: { alive: s.producer.alive, pid: s.producer.pid, state: s.producer.state },
        consumers: { alive, total: s.consumers.length },
        size,
      });
    } catch (err) {
      const reason = describeError('', err)
        .message.replace(/^shmring: /, '')
        .replace(`: ${path}`, '');
      entries.push({
        name: entry.name,
        path,
        status: 'error',
        mode: null,
        capacity: null,
        producer: null,
        consumers: null,
        size,
        error: reason,
      });
    }
  }
  return entries;
}

function producerCell(e: ListEntry): string {
  if (e.producer === null) return '-';
  if (e.producer.state === 'none' && !e.producer.alive) return 'none';
  if (e.producer.alive) return `alive ${e.producer.pid}`;
  return e.producer.state === 'closed' ? `closed ${e.producer.pid}` : `dead ${e.producer.pid}`;
}

/** Runs `shmring list`. */
export function run(args: Parsed, output: Output): number {
  const entries = listDirectory(args.values.dir);
  if (args.values.json === true) {
    output.out(`${JSON.stringify(entries)}\n`);
    return ExitCode.OK;
  }
  if (entries.length === 0) {
    output.out(`no files in ${args.values.dir}\n`);
    return ExitCode.OK;
  }
  output.out(
    table(
      ['NAME', 'MODE', 'CAPACITY', 'PRODUCER', 'CONSUMERS', 'SIZE', 'STATUS'],
      entries.map((e) => [
        e.name,
        e.mode ?? '-',
        e.capacity === null ? '-' : formatBytes(e.capacity),
        producerCell(e),
        e.consumers === null ? '-' : `${e.consumers.alive}/${e.consumers.total}`,
        formatBytes(e.size),
        e.status === 'error' ? (e.error ?? 'error') : e.status,
      ]),
    ),
  );
  return ExitCode.OK;
}
