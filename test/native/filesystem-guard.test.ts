import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../lib/errors';
import {
  checkDirectoryMode,
  checkFilesystem,
  HUGETLBFS_MAGIC,
  NETWORK_FILESYSTEMS,
  TMPFS_MAGIC,
} from '../../lib/filesystem-guard';
import { thrown } from '../helpers/ring-env';

const EXT4 = 0xef53;
const NFS = 0x6969;
const CIFS = 0xff534d42;

function refusal(fsType: number, allow: boolean): unknown {
  try {
    checkFilesystem(fsType, '/mnt/x/ring', allow);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('checkFilesystem', () => {
  it('accepts tmpfs and hugetlbfs with or without the opt-in', () => {
    for (const fsType of [TMPFS_MAGIC, HUGETLBFS_MAGIC]) {
      expect(() => checkFilesystem(fsType, '/dev/shm/x', false)).not.toThrow();
      expect(() => checkFilesystem(fsType, '/dev/shm/x', true)).not.toThrow();
    }
  });

  it('refuses NFS even with allowAnyFilesystem, saying why', () => {
    for (const allow of [false, true]) {
      expect(refusal(NFS, allow)).toMatchObject({
        name: 'ShmringError',
        code: ErrorCode.UNSUPPORTED_FILESYSTEM,
        path: '/mnt/x/ring',
        message:
          '/mnt/x/ring is on NFS (f_type=0x00006969), a network or cluster filesystem: shared memory mappings are ' +
          "not coherent across hosts, so processes would not see each other's writes. Use /dev/shm or another tmpfs",
      });
    }
  });

  it('refuses CIFS, SMB2, Ceph, FUSE and 9P with the opt-in too', () => {
    expect((refusal(CIFS, true) as Error).message).toContain('is on CIFS (f_type=0xff534d42), a network');
    for (const fsType of [0xfe534d42, 0x00c36400, 0x65735546, 0x01021997, 0x517b]) {
      expect(NETWORK_FILESYSTEMS.has(fsType)).toBe(true);
      expect(refusal(fsType, true)).toMatchObject({ code: ErrorCode.UNSUPPORTED_FILESYSTEM });
    }
  });

  it('refuses a local disk filesystem unless allowAnyFilesystem is set, naming the option', () => {
    expect(refusal(EXT4, false)).toMatchObject({
      code: ErrorCode.UNSUPPORTED_FILESYSTEM,
      message:
        '/mnt/x/ring is on ext2/3/4 (f_type=0x0000ef53), not tmpfs or hugetlbfs: the kernel would write every change ' +
        'back to disk. Use /dev/shm, or set allowAnyFilesystem: true to accept it',
    });
    expect(() => checkFilesystem(EXT4, '/mnt/x/ring', true)).not.toThrow();
  });

  it('calls a filesystem it does not know "an unknown filesystem"', () => {
    expect((refusal(0x12345678, false) as Error).message).toMatch(
      /^\/mnt\/x\/ring is on an unknown filesystem \(f_type=0x12345678\), not tmpfs/,
    );
    expect(() => checkFilesystem(0x12345678, '/mnt/x/ring', true)).not.toThrow();
  });
});

describe('checkDirectoryMode', () => {
  const DIR = 0o040000;

  it('refuses a directory every user may write without the sticky bit, naming its mode', () => {
    for (const mode of [0o777, 0o773, 0o707, 0o2777]) {
      const err = thrown(() => checkDirectoryMode(DIR | mode, '/srv/rings'));
      expect(err).toMatchObject({ code: ErrorCode.UNSAFE_DIRECTORY, path: '/srv/rings' });
      expect(err.message).toMatch(
        new RegExp(`^/srv/rings is writable by every user without the sticky bit \\(mode 0o${mode.toString(8)}\\)`),
      );
    }
  });

  it('accepts a sticky world-writable directory (/dev/shm, /tmp) and any directory others may not write', () => {
    for (const mode of [0o1777, 0o1773, 0o700, 0o755, 0o775, 0o770]) {
      expect(() => checkDirectoryMode(DIR | mode, '/srv/rings')).not.toThrow();
    }
  });
});
