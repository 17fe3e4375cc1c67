/**
 * Sharing an anonymous (memfd) ring: the producer listens on a Unix socket and hands each connecting consumer the
 * ring's file descriptor (SCM_RIGHTS); the consumer maps it. No file to clean up, and the memfd is sealed, so no
 * peer can truncate it under the others.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { binding } from './binding';
import { ErrorCode, ShmringError } from './errors';

/** Anything that can send its fd over a connected Unix socket (a `Segment`). */
export interface FdSender {
  sendTo(socketFd: number): void;
}

/** A listening socket that gives the ring's fd to whoever connects. Close it when no more consumers may join. */
export class RingServer {
  readonly path: string;
  /** Consumers served so far. */
  served = 0;
  private readonly server: net.Server;

  private constructor(path: string, server: net.Server) {
    this.path = path;
    this.server = server;
  }

  /** Listens on `socketPath` (made 0600: only this user may fetch the ring). */
  static listen(ring: FdSender, socketPath: string): Promise<RingServer> {
    return new Promise((resolve, reject) => {
      // pauseOnConnect: Node must never read from (or write to) the socket; the addon does the sendmsg.
      const server = net.createServer({ pauseOnConnect: true }, (socket) => {
        try {
          ring.sendTo(socketFd(socket));
          ringServer.served++;
        } catch (err) {
          server.emit('error', err);
        } finally {
          socket.destroy();
        }
      });
      const ringServer = new RingServer(socketPath, server);
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.removeListener('error', reject);
        server.on('error', () => undefined); // a consumer that hung up early is not the server's failure
        try {
          fs.chmodSync(socketPath, 0o600);
        } catch (err) {
          server.close();
          reject(err);
          return;
        }
        resolve(ringServer);
      });
    });
  }

  /** Lets the process exit while the server still listens. */
  unref(): this {
    this.server.unref();
    return this;
  }

  /** Stops listening and removes the socket file. Consumers already served keep the ring. */
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
  /** `await using server = await pub.serve(path)` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Serves a ring: listens on `socketPath` and hands `ring`'s fd to each consumer that connects (what `pub.serve` does).
 * A free function, so the producers' per-message modules need no sockets.
 */
export function serveRing(ring: FdSender, socketPath: string): Promise<RingServer> {
  return RingServer.listen(ring, socketPath);
}

function socketFd(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('cannot get the fd of an accepted socket');
  return fd;
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
