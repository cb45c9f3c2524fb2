/**
 * The store could not be reached or did not answer in time. Requests fail closed on it (503): a
 * session is never treated as absent because its store is down, and nothing falls back to memory.
 */
export class StoreUnavailable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailable';
  }
}
