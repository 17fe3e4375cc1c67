/** `shmring create NAME`: creates a ring with no producer (attach one later with `Publication.attach`). */
import { createRing } from '../rings';
import {
  ExitCode,
  formatBytes,
  parseChoice,
  parseCount,
  parseSize,
  type CommandSpec,
  type Output,
  type Parsed,
} from './common';

/** `shmring create`: its synopsis, help and options. */
export const spec: CommandSpec = {
  name: 'create',
  synopsis: 'NAME [--capacity N] [--mode reliable|broadcast|many-to-one] [--max-consumers N]',
  description:
    'Creates a ring file with no producer: a process becomes its producer with Publication.attach (or an\n' +
    'Agrona transmitter writes a broadcast ring; producers join a many-to-one ring with Publication.open and its\n' +
    'consumer with Subscription.open). Fails if a file of that name exists.',
  options: {
    capacity: {
      type: 'string',
      value: 'N',
      help: 'data region bytes, a power of two from 4k to 1g (default 1m); k/m/g = KiB/MiB/GiB',
    },
    mode: {
      type: 'string',
      value: 'MODE',
      help: "'reliable' (default): back-pressure, no loss; 'broadcast': lossy fan-out; 'many-to-one': many producers, one consumer",
    },
    'max-consumers': { type: 'string', value: 'N', help: 'consumer slots of a reliable ring (default 16)' },
  },
  positionals: { min: 1, max: 1, names: 'NAME' },
};

/** Runs `shmring create`. */
export function run(args: Parsed, output: Output): number {
  const v = args.values;
  const capacity = typeof v.capacity === 'string' ? parseSize('create', '--capacity', v.capacity) : undefined;
  const mode = parseChoice('create', '--mode', typeof v.mode === 'string' ? v.mode : 'reliable', [
    'reliable',
    'broadcast',
    'many-to-one',
  ] as const);
  const maxConsumers =
    typeof v['max-consumers'] === 'string' ? parseCount('create', '--max-consumers', v['max-consumers']) : undefined;
  const info = createRing(args.positionals[0], { dir: v.dir, capacity, mode, maxConsumers });
  output.out(
    `created ${info.path}: ${info.mode}, capacity ${formatBytes(info.capacity)}, ` +
      `max message ${formatBytes(info.maxMessageLength)}, ` +
      `${info.mode === 'reliable' ? `${info.maxConsumers} consumer slots, ` : ''}` +
      `file ${formatBytes(info.fileLength)}\n`,
  );
  return ExitCode.OK;
}
