/**
 * Two hosts simulated on one machine: network namespaces A and B joined by a veth pair with a /30 of their own
 * (10.213.N.1 in A, 10.213.N.2 in B), nothing else attached, so the test's traffic stays on its own addresses. Root
 * only (`ip netns`); `netnsUnavailable()` says why not. The namespaces (and with them the veth pair) are deleted
 * after the test, after its processes were killed.
 */
import fs from 'fs';
import { cleanupAfterTest, run } from './nats-env';

export interface HostPair {
  nsA: string;
  nsB: string;
  addressA: string;
  addressB: string;
}

/** Why namespaces cannot be made here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not root (ip netns needs CAP_SYS_ADMIN and CAP_NET_ADMIN)';
  if (!['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].some((f) => fs.existsSync(f))) return 'no `ip` command';
  return null;
}

/** Creates the pair; deleted after the test whatever happens. */
export function createHostPair(): HostPair {
  const tag = `${process.pid % 100000}${Math.floor(Math.random() * 100)}`;
  const nsA = `shmring-a-${tag}`;
  const nsB = `shmring-b-${tag}`;
  const vethA = `shra${tag}`.slice(0, 15);
  const vethB = `shrb${tag}`.slice(0, 15);
  const used = run('ip', ['-o', 'addr']);
  let subnet = -1;
  for (let i = 0; i < 64 && subnet < 0; i++) {
    const candidate = (process.pid + i * 7) % 250;
    if (!used.includes(`10.213.${candidate}.`)) subnet = candidate;
  }
  if (subnet < 0) throw new Error('no free 10.213.N.0/30 for the test');
  const addressA = `10.213.${subnet}.1`;
  const addressB = `10.213.${subnet}.2`;
  cleanupAfterTest(() => {
    for (const ns of [nsA, nsB]) {
      try {
        run('ip', ['netns', 'del', ns]);
      } catch {
        // never created
      }
    }
  });
  run('ip', ['netns', 'add', nsA]);
  run('ip', ['netns', 'add', nsB]);
  run('ip', ['link', 'add', vethA, 'type', 'veth', 'peer', 'name', vethB]);
  run('ip', ['link', 'set', vethA, 'netns', nsA]);
  run('ip', ['link', 'set', vethB, 'netns', nsB]);
  run('ip', ['-n', nsA, 'addr', 'add', `${addressA}/30`, 'dev', vethA]);
  run('ip', ['-n', nsB, 'addr', 'add', `${addressB}/30`, 'dev', vethB]);
  for (const [ns, dev] of [
    [nsA, vethA],
    [nsB, vethB],
  ]) {
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
  }
  return { nsA, nsB, addressA, addressB };
}

/** The namespaces this process created that still exist (the test checks none is left behind). */
export function leftoverNamespaces(): string[] {
  return run('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter(
      (name) =>
        name.startsWith(`shmring-a-${process.pid % 100000}`) || name.startsWith(`shmring-b-${process.pid % 100000}`),
    );
}
