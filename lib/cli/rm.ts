/**
 * `shmring rm NAME`: removes a ring file. Refuses a file that is not a ring, and a ring a live process uses unless
 * `--force` (processes that have it mapped keep using it; its memory is freed when the last one closes it).
 */
import { ErrorCode } from '../errors';
import { ringInfo, unlinkRing } from '../rings';
import { CliError, ExitCode, ringPath, type CommandSpec, type Output, type Parsed } from './common';

/** `shmring rm`: its synopsis, help and options. */
export const spec: CommandSpec = {
  name: 'rm',
  synopsis: 'NAME [--force]',
  description:
    'Removes a ring file. A file that is not a ring is refused (use rm(1)); a ring of another layout\n' +
    'version is removed. A ring with a live producer or consumer is refused unless --force: they keep their\n' +
    'mapping, and its memory is freed when the last of them closes it.',
  options: { force: { type: 'boolean', short: 'f', help: 'remove it even while live processes use it' } },
  positionals: { min: 1, max: 1, names: 'NAME' },
};

/** Runs `shmring rm`. */
export function run(args: Parsed, output: Output): number {
  const name = args.positionals[0];
  const dir = args.values.dir;
  const path = ringPath(dir, name);
  try {
    const info = ringInfo(name, { dir, openTimeoutMs: 0 });
    const users = (info.producerAlive ? 1 : 0) + info.consumers.filter((c) => c.alive).length;
    if (users > 0 && args.values.force !== true) {
      throw new CliError(
        ExitCode.CONFLICT,
        `in use by ${users} live process${users === 1 ? '' : 'es'} ` +
          `(producer ${info.producerAlive ? `pid ${info.producerPid}` : 'dead'}, ` +
          `${info.consumers.filter((c) => c.alive).length} live consumers): ${path} (--force removes it anyway)`,
      );
    }
  } catch (err) {
    // A ring of another layout version is still a ring: removing it is what an upgrade needs.
    if ((err as { code?: string }).code !== ErrorCode.VERSION_MISMATCH) throw err;
  }
  unlinkRing(name, { dir });
  output.out(`removed ${path}\n`);
  return ExitCode.OK;
}
