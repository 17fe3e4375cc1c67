/**
 * Runs the C interop peers (agrona_transmitter, agrona_receiver, agrona_order_checker, agrona_m2o_producer,
 * agrona_m2o_consumer) as child processes: finds
 * the binaries CMake built beside shmring.node, collects their JSON lines, bounds every wait with a deadline and
 * reaps every child.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export const PEER_NAMES = [
  'agrona_transmitter',
  'agrona_receiver',
  'agrona_order_checker',
  'agrona_m2o_producer',
  'agrona_m2o_consumer',
] as const;
export type PeerName = (typeof PEER_NAMES)[number];

/** Where CMake puts the peers (`npm install` / `npm run build:native`); SHMRING_INTEROP_BIN_DIR overrides it. */
export const PEER_BIN_DIR =
  process.env.SHMRING_INTEROP_BIN_DIR ?? path.resolve(__dirname, '..', '..', 'build', 'Release');

export function peerPath(name: PeerName): string {
  return path.join(PEER_BIN_DIR, name);
}

/** Throws with the command to run when a peer binary is missing. */
export function assertPeersBuilt(): void {
  for (const name of PEER_NAMES) {
    if (!fs.existsSync(peerPath(name))) {
      throw new Error(`${peerPath(name)} is missing: build it with \`npm run build:native\` (CMake target ${name})`);
    }
  }
}

export interface PeerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last JSON line the peer printed, parsed. */
  result: Record<string, number | boolean>;
  stderr: string;
}

export class Peer {
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private partial = '';
  private lineWaiters: Array<() => void> = [];

  constructor(
    readonly name: PeerName,
    readonly args: string[],
  ) {
    this.child = spawn(peerPath(name), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts.filter((line) => line.length > 0));
      const waiters = this.lineWaiters;
      this.lineWaiters = [];
      for (const wake of waiters) wake();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.stderr += String(err);
        resolve({ code: null, signal: null });
      });
      // 'close' (not 'exit') so stdout has been read to the end.
      this.child.on('close', (code, signal) => resolve({ code, signal }));
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first line matching `predicate`; rejects at the deadline or if the peer exits first. */
  async waitForLine(predicate: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(predicate);
      if (found !== undefined) return found;
      if (!this.running) throw new Error(`${this.describe()} exited before the expected line; stderr: ${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.describe()} printed no expected line in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.lineWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits for the exit (SIGKILL at the deadline) and parses the last JSON line. */
  async result(timeoutMs: number): Promise<PeerExit> {
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.kill();
        resolve();
      }, timeoutMs);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    const { code, signal } = await this.exited;
    const last = [...this.lines].reverse().find((line) => line.startsWith('{') && !line.includes('"ready"'));
    if (last === undefined) {
      throw new Error(`${this.describe()} printed no result (code=${code} signal=${signal}); stderr: ${this.stderr}`);
    }
    return { code, signal, result: JSON.parse(last) as Record<string, number | boolean>, stderr: this.stderr };
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  describe(): string {
    return `${this.name} ${this.args.join(' ')}`;
  }
}

/** Every peer started through `startPeer`, so `reapPeers` can end and wait for the ones a failed test left. */
const live = new Set<Peer>();

export function startPeer(name: PeerName, args: Array<string | number>): Peer {
  const peer = new Peer(name, args.map(String));
  live.add(peer);
  void peer.exited.then(() => live.delete(peer));
  return peer;
}

/** Kills every peer still running and waits for each to be reaped. */
export async function reapPeers(): Promise<void> {
  const peers = [...live];
  for (const peer of peers) peer.kill();
  await Promise.all(peers.map((peer) => peer.exited));
}
