/**
 * Child process of the crash test (sqlite.test.ts): writes counter batches in a loop and
 * prints the number of each batch once it is committed, until killed or bounded out.
 * Usage: node --import tsx sqliteWriter.ts <dataDir> <rowsPerBatch> <maxBatches>
 */
import { SqliteStore } from '../../src/store/sqlite.ts';

const [dir, rowsArg, maxArg] = process.argv.slice(2);
if (!dir || !rowsArg || !maxArg) throw new Error('usage: sqliteWriter.ts <dataDir> <rowsPerBatch> <maxBatches>');
const rows = Number(rowsArg);
const maxBatches = Number(maxArg);
const store = new SqliteStore(dir);
const deadline = Date.now() + 15_000;
const batch = Array.from({ length: rows }, (_, i) => ({
  keyHash: `hash${String(i).padStart(4, '0')}`,
  model: 'gemini-2.5-flash',
  day: '2026-11-22',
  requests: 1,
  tokens: 7,
  usage: 1,
  errors: 0,
  latencyMs: 3,
}));
for (let b = 1; b <= maxBatches && Date.now() < deadline; b++) {
  await store.addCounters(batch);
  process.stdout.write(`${b}\n`);
}
await store.close();
