/**
 * The CLI's value parsing and formatting, in-process: sizes, durations, the optional `--watch` value, byte counts,
 * table alignment, and how library errors map to exit codes.
 */
import { describe, expect, it } from 'vitest';
import { CliError, ExitCode, describeError, formatBytes, parseDuration, parseSize, table } from '../../lib/cli/common';
import { normalizeWatch } from '../../lib/cli/stat';
import { ErrorCode, ShmringError } from '../../lib/errors';

describe('shmring argument parsing', () => {
  it('reads sizes in bytes or with a binary k/m/g suffix', () => {
    expect(parseSize('create', '--capacity', '4096')).toBe(4096);
    expect(parseSize('create', '--capacity', '64k')).toBe(65536);
    expect(parseSize('create', '--capacity', '1M')).toBe(1 << 20);
    expect(parseSize('create', '--capacity', '1GiB')).toBe(1 << 30);
    expect(() => parseSize('create', '--capacity', '1.5m')).toThrow(CliError);
  });

  it('reads durations with a unit, a bare number as seconds', () => {
    expect(parseDuration('gc', '--older-than', '500ms')).toBe(500);
    expect(parseDuration('gc', '--older-than', '30')).toBe(30_000);
    expect(parseDuration('gc', '--older-than', '10m')).toBe(600_000);
    expect(parseDuration('gc', '--older-than', '2h')).toBe(7_200_000);
    expect(parseDuration('gc', '--older-than', '7d')).toBe(604_800_000);
    expect(() => parseDuration('gc', '--older-than', '-1s')).toThrow(/--older-than must be a duration/);
  });

  it('gives --watch its optional value: a bare --watch is 1 second, a following number is the period', () => {
    expect(normalizeWatch(['x', '--watch'])).toEqual(['x', '--watch=1']);
    expect(normalizeWatch(['--watch', 'x'])).toEqual(['--watch=1', 'x']);
    expect(normalizeWatch(['--watch', '2.5', 'x'])).toEqual(['--watch=2.5', 'x']);
    expect(normalizeWatch(['x', '--watch=3', '--json'])).toEqual(['x', '--watch=3', '--json']);
    expect(normalizeWatch(['--', '--watch'])).toEqual(['--', '--watch']);
  });
});

describe('shmring output formatting', () => {
  it('prints bytes in binary units, whole numbers without a decimal', () => {
    expect([0, 1023, 1024, 1536, 65536, 1052672, 10 * 1024 * 1024 + 1].map(formatBytes)).toEqual([
      '0 B',
      '1023 B',
      '1 KiB',
      '1.5 KiB',
      '64 KiB',
      '1.0 MiB',
      '10 MiB',
    ]);
  });

  it('right-aligns columns of numbers (a "-" does not count) and left-aligns the others', () => {
    expect(
      table(
        ['NAME', 'LAG'],
        [
          ['a', '12'],
          ['bbb', '-'],
          ['c', '3 KiB'],
        ],
      ),
    ).toBe('NAME    LAG\na        12\nbbb       -\nc     3 KiB\n');
  });

  it('maps library errors to exit codes and one line naming the path', () => {
    const path = '/dev/shm/x';
    const cases: Array<[unknown, number, string]> = [
      [
        Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' }),
        ExitCode.NOT_FOUND,
        'shmring stat: no such ring: /dev/shm/x',
      ],
      [
        Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES', path }),
        ExitCode.PERMISSION,
        'shmring stat: permission denied: /dev/shm/x',
      ],
      [
        new ShmringError(ErrorCode.CORRUPT, 'ring is corrupt: capacity=3', path),
        ExitCode.NOT_A_RING,
        'shmring stat: corrupt ring: capacity=3: /dev/shm/x',
      ],
      [
        new ShmringError(ErrorCode.EVICTED, 'consumer was evicted'),
        ExitCode.FAILURE,
        'shmring stat: consumer was evicted',
      ],
      [
        new RangeError('capacity must be a power of two: capacity=3'),
        ExitCode.USAGE,
        'shmring stat: capacity must be a power of two: capacity=3 (see shmring stat --help)',
      ],
    ];
    for (const [err, exitCode, message] of cases) {
      expect(describeError('stat', err, path)).toEqual({ message, exitCode });
    }
    const internal = describeError('stat', new Error('boom'), path);
    expect(internal.exitCode).toBe(ExitCode.FAILURE);
    expect(internal.message).toMatch(/^shmring stat: internal error: boom/);
  });
});
