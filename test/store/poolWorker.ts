/**
 * A pool in its own process, configured by the environment like the bot, for tests that
 * need several processes (shared Redis) or a crash (kill -9). Reads commands on stdin:
 *   ask N   N requests one after the other; one JSON line per result
 *   loop    requests until killed; after each, {"done": k, "at": epochMs}
 * Prints "ready" once the store is loaded.
 */
import { createInterface } from 'node:readline';
import pino from 'pino';
import { loadConfig } from '../../src/config.ts';
import { GeminiAPIPool } from '../../src/pool/GeminiAPIPool.ts';
import { createStore } from '../../src/store/index.ts';

const config = loadConfig();
const logger = pino({ level: 'warn' }, pino.destination(2));
const store = await createStore(config.store, logger);
const pool = GeminiAPIPool.fromConfig(config, { logger });
await pool.attachStore(store, { flushIntervalMs: config.store.flushIntervalMs });
const say = (o: unknown) => process.stdout.write(`${typeof o === 'string' ? o : JSON.stringify(o)}\n`);
say('ready');

for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === 'ask') {
    for (let i = 0; i < Number(arg ?? 1); i++) {
      const r = await pool.generateContent({ prompt: `worker ${process.pid} ${i}` });
      say(r.ok ? { ok: true, keyId: r.keyId } : { ok: false, kind: r.error.kind });
    }
  } else if (cmd === 'loop') {
    // Bounded: the test kills this process long before.
    for (let done = 1; done <= 1_000_000; done++) {
      await pool.generateContent({ prompt: `loop ${done}` });
      say({ done, at: Date.now() });
    }
  } else if (cmd === 'exit') {
    await pool.close();
    await store.close();
    process.exit(0);
  }
}
