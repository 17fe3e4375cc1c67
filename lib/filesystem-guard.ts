/**
 * Which filesystems a ring may live on, decided from `statfs.f_type` alone (a pure function, so it is testable
 * without the filesystems).
 *
 * - tmpfs (`/dev/shm`, memfd) and hugetlbfs: memory, no write-back. Accepted.
 * - Network and cluster filesystems (NFS, SMB/CIFS, Ceph, FUSE — which may be sshfs —, AFS, 9P...): always refused.
 *   A MAP_SHARED mapping is only coherent within one kernel; processes on two hosts would each see their own pages.
 * - Any other local filesystem (ext4, xfs, btrfs, overlayfs...): works within one host, but the kernel writes dirty
 *   pages back to disk, so only with `allowAnyFilesystem: true`.
 *
 * And which directories, from their mode alone: one every user may write without the sticky bit is refused.
 */
import { ErrorCode, ShmringError } from './errors';

export const TMPFS_MAGIC = 0x01021994;
export const HUGETLBFS_MAGIC = 0x958458f6;

/** Filesystems whose shared mappings are not coherent across hosts. Never accepted. */
export const NETWORK_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x6969, 'NFS'],
  [0x517b, 'SMB'],
  [0xff534d42, 'CIFS'],
  [0xfe534d42, 'SMB2'],
  [0x00c36400, 'Ceph'],
  [0x65735546, 'FUSE'],
  [0x5346414f, 'AFS'],
  [0x6b414653, 'AFS'],
  [0x01021997, '9P'],
  [0x73757245, 'Coda'],
  [0x564c, 'NCP'],
  [0x01161970, 'GFS2'],
  [0x7461636f, 'OCFS2'],
  [0x0bd00bd0, 'Lustre'],
  [0x47504653, 'GPFS'],
  [0x13661366, 'OrangeFS'],
]);

/** Local filesystems named in messages (anything not listed is "an unknown filesystem"). */
const LOCAL_FILESYSTEMS: ReadonlyMap<number, string> = new Map([
  [0xef53, 'ext2/3/4'],
  [0x58465342, 'XFS'],
  [0x9123683e, 'Btrfs'],
  [0x794c7630, 'overlayfs'],
  [0x2fc12fc1, 'ZFS'],
  [0xf2f52010, 'F2FS'],
  [0x858458f6, 'ramfs'],
]);

function hex(fsType: number): string {
  return `0x${(fsType >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * Throws ShmringError UNSUPPORTED_FILESYSTEM unless a shared mapping of `path` on a filesystem of type `fsType` is
 * safe (or, for a local disk filesystem, opted into with `allowAnyFilesystem`).
 */
export function checkFilesystem(fsType: number, path: string, allowAnyFilesystem: boolean): void {
  if (fsType === TMPFS_MAGIC || fsType === HUGETLBFS_MAGIC) return;
  const network = NETWORK_FILESYSTEMS.get(fsType);
  if (network !== undefined) {
    throw new ShmringError(
      ErrorCode.UNSUPPORTED_FILESYSTEM,
      `${path} is on ${network} (f_type=${hex(fsType)}), a network or cluster filesystem: shared memory mappings are ` +
        `not coherent across hosts, so processes would not see each other's writes. Use /dev/shm or another tmpfs`,
      path,
    );
  }
  if (allowAnyFilesystem) return;
  const local = LOCAL_FILESYSTEMS.get(fsType);
  throw new ShmringError(
    ErrorCode.UNSUPPORTED_FILESYSTEM,
    `${path} is on ${local ?? 'an unknown filesystem'} (f_type=${hex(fsType)}), not tmpfs or hugetlbfs: the kernel ` +
      `would write every change back to disk. Use /dev/shm, or set allowAnyFilesystem: true to accept it`,
    path,
  );
}

const WORLD_WRITABLE = 0o002;
const STICKY = 0o1000;

/**
 * Throws ShmringError UNSAFE_DIRECTORY when `dir` (of mode `mode`) is writable by every user without the sticky bit:
 * any user could then rename or unlink a ring in it and put their own file in its place. With the sticky bit
 * (/dev/shm, /tmp) only a file's owner may do that; a 0700 directory (Aeron's per-user directories) lets no one.
 */
export function checkDirectoryMode(mode: number, dir: string): void {
  if ((mode & WORLD_WRITABLE) === 0 || (mode & STICKY) !== 0) return;
  throw new ShmringError(
    ErrorCode.UNSAFE_DIRECTORY,
    `${dir} is writable by every user without the sticky bit (mode 0o${(mode & 0o7777).toString(8)}): another user ` +
      'can replace or remove a ring in it; use a directory only its owner can write (mode 0o700), or set the sticky ' +
      'bit (chmod +t) as /dev/shm has',
    dir,
  );
}
