/**
 * What the store contracts share: the harness a store is tested through, and a bounded
 * wait. The contracts themselves: poolStateContract.ts, conversationContract.ts and
 * gatewayContract.ts; every store class must pass all three (stores.test.ts).
 */
import type { GatewayStore } from '../../src/store/gatewayTypes.ts';
import type { PoolStateStore } from '../../src/store/types.ts';

/** A store under test, seen through the interface under test, plus a way to see what it really wrote. */
export interface StoreHarness<S> {
  store: S;
  /** Closes the store and whatever else the harness opened. */
  close(): Promise<void>;
  /** Everything the store persisted, as text (file bytes, keyspace dump), when it has any. */
  rawDump?(): Promise<string>;
  /** For shared stores: a second store on the same data, as another process would open it. */
  peer?: PoolStateStore;
  /** For stores on a file or a server: a second store on the same data (SQLite's file, Redis). */
  sameData?: GatewayStore;
}

/** Polls `check` every 20 ms until it returns true or `timeoutMs` passes. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 2_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}
