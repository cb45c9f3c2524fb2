/**
 * Open SSE answers per owner (a browser session, or a client address for requests without one), in
 * this process: each holds a connection to the browser and one to the MCP server for as long as it is
 * open. An owner's entry exists only while it has a stream open, so the map is bounded by the streams
 * themselves.
 */
export class StreamSlots {
  private readonly open = new Map<string, number>();

  /** Streams `owner` has open now. */
  count(owner: string): number {
    return this.open.get(owner) ?? 0;
  }

  /** Counts one more stream for `owner`; the returned function gives it back (once, however often called). */
  take(owner: string): () => void {
    this.open.set(owner, this.count(owner) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.count(owner) - 1;
      if (left > 0) this.open.set(owner, left);
      else this.open.delete(owner);
    };
  }

  /** Owners with a stream open (for tests: the map must empty once every stream is closed). */
  get owners(): number {
    return this.open.size;
  }
}
