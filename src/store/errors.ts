/**
 * The two ways a store call fails, told apart by a brand so callers can act differently:
 * an unavailable store is worth trying again later, a rejected request never is.
 */

/** The store cannot be reached right now (Redis down, store closed): keep the data and try later. */
export class StoreUnavailableError extends Error {
  readonly brand = 'StoreUnavailableError' as const;
  constructor(message: string) {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}

/** True for a {@link StoreUnavailableError}, also across module copies. */
export const isStoreUnavailableError = (e: unknown): e is StoreUnavailableError =>
  e instanceof Error && (e as { brand?: string }).brand === 'StoreUnavailableError';

/**
 * The store refused what it was given (a counter that is not a count, for example) and
 * wrote none of it. Sending the same data again would be refused again.
 */
export class StoreRejectedError extends Error {
  readonly brand = 'StoreRejectedError' as const;
  constructor(message: string) {
    super(message);
    this.name = 'StoreRejectedError';
  }
}

/** True for a {@link StoreRejectedError}, also across module copies. */
export const isStoreRejectedError = (e: unknown): e is StoreRejectedError =>
  e instanceof Error && (e as { brand?: string }).brand === 'StoreRejectedError';
