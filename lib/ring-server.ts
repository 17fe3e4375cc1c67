/**
 * Sharing an anonymous (memfd) ring: the producer listens on a Unix socket and hands each connecting consumer the
 * ring's file descriptor (SCM_RIGHTS); the consumer maps it. No file to clean up, and the memfd is sealed, so no
 * peer can truncate it under the others.
 *
 * Both ends are the addon's sockets (listen/accept/connect, sendmsg/recvmsg): Node's `net` cannot pass descriptors and
 * gives no public access to an accepted socket's fd. Neither end blocks the event loop: the server accepts with a
 * zero timeout from a timer, the client polls its receive the same way.
 */
import * as fs from 'node:fs';
import { binding } from './binding';
import { ErrorCode, ShmringError } from './errors';

/** Anything that can send its fd over a connected Unix socket (a `Segment`). */
export interface FdSender {
  sendTo(socketFd: number): void;
}

/** Connections the kernel queues while the server is between two accepts. */
const BACKLOG = 64;
/**
 * How often the server looks for connections: every millisecond after one arrived, backing off to every 50 ms while
 * none come (an idle server costs ~20 wake-ups a second; a consumer connecting to it waits at most that long).
 */
const MIN_ACCEPT_INTERVAL_MS = 1;
const MAX_ACCEPT_INTERVAL_MS = 50;

/** A listening socket that gives the ring's fd to whoever connects. Close it when no more consumers may join. */
export class RingServer {
  readonly path: string;
  /** Consumers served so far. */
  served = 0;
  private readonly ring: FdSender;
  private readonly listenFd: number;
  private timer: NodeJS.Timeout | null = null;
  private intervalMs = MIN_ACCEPT_INTERVAL_MS;
  private keepsProcessAlive = true;
  private closed = false;

  private constructor(ring: FdSender, path: string, listenFd: number) {
    this.ring = ring;
    this.path = path;
    this.listenFd = listenFd;
    this.schedule();
  }

  /** Listens on `socketPath` (made 0600: only this user may fetch the ring); rejects with the bind/listen error. */
  static listen(ring: FdSender, socketPath: string): Promise<RingServer> {
    try {
      return Promise.resolve(new RingServer(ring, socketPath, listenPrivately(socketPath)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Lets the process exit while the server still listens. */
  unref(): this {
    this.keepsProcessAlive = false;
    this.timer?.unref();
    return this;
  }

  /** Stops listening and removes the socket file. Consumers already served keep the ring. Idempotent. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = null;
      binding().closeFd(this.listenFd);
      fs.rmSync(this.path, { force: true });
    }
    return Promise.resolve();
  }

  /** `await using server = await pub.serve(path)` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private schedule(): void {
    this.timer = setTimeout(() => this.acceptPending(), this.intervalMs);
    if (!this.keepsProcessAlive) this.timer.unref();
  }

  /** Serves every connection the kernel has queued, then looks again later. */
  private acceptPending(): void {
    this.timer = null;
    if (this.closed) return;
    const native = binding();
    let accepted = 0;
    for (;;) {
      let socketFd: number;
      try {
        socketFd = native.unixAccept(this.listenFd, 0);
      } catch {
        break; // ETIMEDOUT: none queued; anything else (EMFILE, ECONNABORTED) is retried at the next look
      }
      accepted++;
      try {
        this.ring.sendTo(socketFd);
        this.served++;
      } catch {
        // a consumer that hung up early, or a closed ring: the consumer sees no fd, the server goes on
      } finally {
        native.closeFd(socketFd);
      }
    }
    this.intervalMs = accepted > 0 ? MIN_ACCEPT_INTERVAL_MS : Math.min(2 * this.intervalMs, MAX_ACCEPT_INTERVAL_MS);
    this.schedule();
  }
}

/**
 * Serves a ring: listens on `socketPath` and hands `ring`'s fd to each consumer that connects (what `pub.serve` does).
 * A free function, so the producers' per-message modules need no sockets.
 */
export function serveRing(ring: FdSender, socketPath: string): Promise<RingServer> {
  return RingServer.listen(ring, socketPath);
}

/** A listening Unix socket at `socketPath` that only this user may connect to. */
function listenPrivately(socketPath: string): number {
  const native = binding();
  const listenFd = native.unixListen(socketPath, BACKLOG);
  try {
    fs.chmodSync(socketPath, 0o600);
  } catch (err) {
    native.closeFd(listenFd);
    fs.rmSync(socketPath, { force: true });
    throw err;
  }
  return listenFd;
}

/**
 * Connects to a `RingServer` and returns the ring's fd (the caller adopts it). Polls the socket without blocking
 * the event loop, so the server may live in the same process.
 */
export async function receiveRingFd(socketPath: string, timeoutMs = 5000): Promise<number> {
  const native = binding();
  const deadline = Date.now() + timeoutMs;
  const socket = native.unixConnect(socketPath, timeoutMs);
  try {
    for (;;) {
      let received;
      try {
        received = native.recvFds(socket, 64, 4, 0);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ETIMEDOUT' || Date.now() >= deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 1));
        continue;
      }
      if (received.fds.length === 1) return received.fds[0];
      for (const fd of received.fds) native.closeFd(fd);
      throw new ShmringError(
        ErrorCode.NOT_A_RING,
        `ring server at ${socketPath} sent ${received.fds.length} file descriptors, expected 1`,
        socketPath,
      );
    }
  } finally {
    native.closeFd(socket);
  }
}
