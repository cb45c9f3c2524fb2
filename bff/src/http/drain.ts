/**
 * A process that is shutting down (SIGTERM, main.ts), as the parts that hold something open see it.
 *
 * - Open MCP streams register how to close themselves: a stream that never ends by itself (a GET
 *   stream, a 2026-07-28 `subscriptions/listen`) is closed as soon as draining starts; a call's stream
 *   (its answer is coming) only when time runs short. Either way at an event boundary, with an SSE
 *   `retry` field, so EventSource and MCP clients reconnect (through the load balancer: to another
 *   instance) instead of reporting an error.
 * - Held refresh locks register how to release themselves: a refresh cut off at the deadline frees its
 *   lock at once instead of making other instances wait for it to lapse.
 *
 * `draining` is what a readiness check reports ("shutting down") while the process finishes its work;
 * liveness (/healthz) is unaffected.
 */

/** Ends an SSE answer: the reconnection delay the browser should use, and a comment saying why. */
export const SHUTDOWN_TRAILER = ': this server is shutting down; reconnect\nretry: 1000\n\n';

export type StreamKind = 'long_lived' | 'call';

export class Drain {
  private started = false;
  private streamsClosed = false;
  private readonly streams = new Map<() => void, StreamKind>();
  private readonly locks = new Set<() => Promise<void>>();
  private lockWaiters: Array<() => void> = [];

  get draining(): boolean {
    return this.started;
  }

  /** Registers an open stream's closer; returns how to unregister it (when the stream ends). */
  stream(kind: StreamKind, close: () => void): () => void {
    if (this.streamsClosed || (this.started && kind === 'long_lived')) {
      close();
      return () => {};
    }
    this.streams.set(close, kind);
    return () => this.streams.delete(close);
  }

  /** Registers a held lock's release; returns how to unregister it (when released normally). */
  lock(release: () => Promise<void>): () => void {
    this.locks.add(release);
    return () => {
      this.locks.delete(release);
      if (this.locks.size === 0) {
        for (const resolve of this.lockWaiters.splice(0)) resolve();
      }
    };
  }

  /** Resolves once no lock is held: the refreshes in progress have stored their tokens (or failed). */
  locksReleased(): Promise<void> {
    if (this.locks.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.lockWaiters.push(resolve));
  }

  /** Draining starts: streams that would never end are closed now. */
  begin(): void {
    if (this.started) return;
    this.started = true;
    for (const [close, kind] of [...this.streams]) {
      if (kind === 'long_lived') {
        this.streams.delete(close);
        close();
      }
    }
  }

  /** Time runs short: every stream still open is closed (and any opened from now on). */
  closeStreams(): void {
    this.begin();
    this.streamsClosed = true;
    const open = [...this.streams.keys()];
    this.streams.clear();
    for (const close of open) close();
  }

  /** Releases every lock still held; never rejects. */
  async releaseLocks(): Promise<number> {
    const held = [...this.locks];
    await Promise.allSettled(held.map((release) => release()));
    this.locks.clear();
    for (const resolve of this.lockWaiters.splice(0)) resolve();
    return held.length;
  }

  /** Streams registered now (for tests and logs). */
  get openStreams(): number {
    return this.streams.size;
  }
}
