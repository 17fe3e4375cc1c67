/**
 * `shmring gc`: removes the rings no live process uses (no producer lock and no consumer lock held: what `kill -9`
 * leaves in /dev/shm) and prints each one it removed, or would remove with `--dry-run`.
 */
import { removeStaleRings } from '../rings';
import { ExitCode, formatAge, formatBytes, parseDuration, type CommandSpec, type Output, type Parsed } from './common';
import { listDirectory } from './list';
import { readRingState } from './ring-state';

/** How a stale ring's producer went, for the line gc prints. */
const PRODUCER_GONE = { none: 'never produced', active: 'producer dead', closed: 'producer closed' } as const;

/** `shmring gc`: its synopsis, help and options. */
export const spec: CommandSpec = {
  name: 'gc',
  synopsis: '[--dry-run] [--older-than DURATION]',
  description:
    'Removes every ring that no live process uses: no producer and no consumer holds its kernel lock\n' +
    '(liveness never depends on pids). Files that are not rings are left alone.',
  options: {
    'dry-run': { type: 'boolean', short: 'n', help: 'print what would be removed, remove nothing' },
    'older-than': {
      type: 'string',
      value: 'DURATION',
      help: 'only rings created longer ago than this: 30s, 10m, 2h, 7d (default 0)',
    },
  },
  positionals: { min: 0, max: 0, names: '' },
};

/** Runs `shmring gc`. */
export function run(args: Parsed, output: Output): number {
  const dir = args.values.dir;
  const dryRun = args.values['dry-run'] === true;
  const olderThan = args.values['older-than'];
  const olderThanMs = typeof olderThan === 'string' ? parseDuration('gc', '--older-than', olderThan) : 0;
  const now = Date.now();
  const candidates = new Map<string, string>();
  for (const entry of listDirectory(dir)) {
    if (entry.status !== 'stale') continue;
    try {
      const s = readRingState(entry.name, { dir, openTimeoutMs: 0 });
      if (s.createdAt > now - olderThanMs) continue;
      candidates.set(
        entry.name,
        `${entry.path} (${s.mode}, file ${formatBytes(entry.size)}, created ` +
          `${formatAge(now - s.createdAt)} ago, ${PRODUCER_GONE[s.producer.state]})`,
      );
    } catch {
      // Vanished or unreadable meanwhile: removeStaleRings skips it too.
    }
  }
  const removed = dryRun ? [...candidates.keys()] : removeStaleRings({ dir, olderThanMs });
  for (const name of removed) {
    output.out(`${dryRun ? 'would remove' : 'removed'} ${candidates.get(name) ?? `${dir}/${name}`}\n`);
  }
  if (removed.length === 0) output.out(`nothing to remove in ${dir}\n`);
  return ExitCode.OK;
}
