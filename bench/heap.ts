/**
 * Heap of a large pool and of chats on it. Needs `global.gc`, so run.ts starts this file in
 * a child process: `node --expose-gc --import tsx bench/heap.ts`. Prints one JSON line:
 * `{ pool: MB, chats: MB }` (MB = 2^20 bytes of `process.memoryUsage().heapUsed`).
 *
 * - pool: 1,000 keys x 3 models x 10 instances, built with a no-network client factory.
 * - chats: what 100 chats of 20 turns each (answers of ~200 chars) add on top of that pool:
 *   their histories, plus what the pool keeps once used (clients, counters, quota windows).
 */
import { GeminiAPIPool, type PoolChat } from '../src/pool/GeminiAPIPool.ts';
import { noNetworkFactory } from './common.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (typeof gc !== 'function') {
  process.stdout.write(`${JSON.stringify({ error: 'run with node --expose-gc' })}\n`);
  process.exit(0);
}

const MB = 1024 * 1024;
function heapAfterGc(): number {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage().heapUsed;
}

const KEYS = 1_000;
const MODELS = ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-2.0-flash'];
const CHATS = 100;
const TURNS = 20;

// Everything the measurement touches is loaded and warmed on a tiny pool first, so module
// code and JIT output are in the baseline, not in the figure.
{
  const warm = new GeminiAPIPool({ keys: ['AIzaWarmUp000001'], models: MODELS, poolSize: 1, clientFactory: noNetworkFactory, timers: false });
  const chat = warm.createChat();
  await chat.sendMessage('warm up');
  await warm.close();
}

const keys = Array.from({ length: KEYS }, (_, i) => `AIzaBenchHeap${String(i).padStart(6, '0')}`);
const before = heapAfterGc();
const pool = new GeminiAPIPool({ keys, models: MODELS, poolSize: 10, clientFactory: noNetworkFactory, timers: false });
const afterPool = heapAfterGc();

const chats: PoolChat[] = [];
for (let c = 0; c < CHATS; c++) chats.push(pool.createChat({ model: MODELS[c % MODELS.length]! }));
await Promise.all(
  chats.map(async (chat, c) => {
    for (let t = 0; t < TURNS; t++) {
      const r = await chat.sendMessage(`chat ${c} turn ${t}: tell me something about the number ${c * TURNS + t}`);
      if (!r.ok) throw new Error(`chat ${c} turn ${t} failed: ${r.error.message}`);
    }
  }),
);
const afterChats = heapAfterGc();
const turns = chats.reduce((n, ch) => n + ch.history.length, 0);

process.stdout.write(
  `${JSON.stringify({ pool: (afterPool - before) / MB, chats: (afterChats - afterPool) / MB, historyEntries: turns, keys: pool.keys.length })}\n`,
);
await pool.close();
