/**
 * A pool in its own process, configured by the environment like the bot, for tests that
 * need several processes (shared Redis) or a crash (kill -9). Reads commands on stdin:
 *   ask N     N requests one after the other; one JSON line per result
 *   loop      requests until killed; after each, {"done": k, "at": epochMs}, and after
 *             each counter batch the store accepted, {"flushed": requests stored so far}
 *   state I   {"state": status of key index I for the default model}
 *   heard     {"heard": requests the other processes reported so far}
 * Prints "ready" once the store is loaded.
 */
import { createInterface } from 'node:readline';
import pino from 'pino';
import { loadConfig } from '../../src/config.ts';
import { createPool } from '../../src/services.ts';
import { createStore } from '../../src/store/index.ts';
import type { CounterDelta, StateStore } from '../../src/store/types.ts';

const config = loadConfig();
const logger = pino({ level: 'warn' }, pino.destination(2));
const store = await createStore(config.store, logger);
const say = (o: unknown) => process.stdout.write(`${typeof o === 'string' ? o : JSON.stringify(o)}\n`);

let looping = false;
let flushed = 0;
// Reports each batch once the store has it, so a crash test knows what was committed.
const reporting: StateStore = new Proxy(store, {
  get(target, prop) {
    if (prop === 'addCounters') {
      return async (deltas: readonly CounterDelta[]) => {
        await target.addCounters(deltas);
        flushed += deltas.reduce((n, d) => n + d.requests, 0);
        if (looping) say({ flushed });
      };
    }
    const v = Reflect.get(target, prop, target) as unknown;
    return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
  },
});

const pool = createPool(config, { logger });
await pool.attachStore(reporting, { flushIntervalMs: config.store.flushIntervalMs });
// Subscribed after the pool, so when this counts a report the pool has already taken it.
let heard = 0;
store.subscribeUsage?.((reports) => {
  for (const r of reports) heard += r.requests;
});
say('ready');

for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'ask') {
    for (let i = 0; i < Number(arg ?? 1); i++) {
      const r = await pool.generateContent({ prompt: `worker ${process.pid} ${i}` });
      say(r.ok ? { ok: true, keyId: r.keyId } : { ok: false, kind: r.error.kind });
    }
  } else if (cmd === 'loop') {
    looping = true;
    // Bounded: the test kills this process long before.
    for (let done = 1; done <= 1_000_000; done++) {
      await pool.generateContent({ prompt: `loop ${done}` });
      say({ done, at: Date.now() });
    }
  } else if (cmd === 'state') {
    say({ state: pool.keyState(Number(arg), pool.defaultModel).status });
  } else if (cmd === 'heard') {
    say({ heard });
  } else if (cmd === 'exit') {
    await pool.close();
    await store.close();
    process.exit(0);
  }
}
