/**
 * Child-process entry: starts the fake Gemini server with the options given as JSON in
 * argv[2], prints `{"url": ...}`, then answers commands on stdin, one per line:
 * `stats` (counts of the requests received, as JSON), `cpu` (CPU time of this process
 * so far, ms), `clear` (forget the requests), `inject {"fault": ..., "match": ...}` (a fault,
 * as `FakeGemini.inject` takes it) and `calls` (every generate call: key, time, status).
 * Closes and exits when stdin ends. Started by `FakeProcess` in bench/common.ts.
 */
import { createInterface } from 'node:readline';
import { FakeGemini, type FakeGeminiOptions, type Fault, type FaultMatch } from '../fakes/fakeGemini.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as FakeGeminiOptions;
const fake = await FakeGemini.start(options);
process.stdout.write(`${JSON.stringify({ url: fake.url })}\n`);

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const cmd = line.trim();
  if (cmd === 'stats') {
    const byStatus: Record<string, number> = {};
    const generateByStatus: Record<string, number> = {};
    let generate = 0;
    for (const r of fake.requests) {
      byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
      if (r.route === 'generateContent') {
        generate++;
        generateByStatus[r.status] = (generateByStatus[r.status] ?? 0) + 1;
      }
    }
    process.stdout.write(`${JSON.stringify({ total: fake.requests.length, generate, byStatus, generateByStatus })}\n`);
  } else if (cmd === 'cpu') {
    const u = process.cpuUsage();
    process.stdout.write(`${JSON.stringify({ cpuMs: (u.user + u.system) / 1000 })}\n`);
  } else if (cmd === 'clear') {
    fake.requests.length = 0;
    process.stdout.write('{"ok":true}\n');
  } else if (cmd.startsWith('inject ')) {
    const { fault, match } = JSON.parse(cmd.slice('inject '.length)) as { fault: Fault; match?: FaultMatch };
    // JSON has no Infinity: a fault without `times` stays for good.
    fake.inject(fault, { ...match, times: match?.times ?? Infinity });
    process.stdout.write('{"ok":true}\n');
  } else if (cmd === 'calls') {
    const calls = fake.requests.filter((r) => r.route === 'generateContent').map((r) => ({ key: r.key, at: r.at, status: r.status }));
    process.stdout.write(`${JSON.stringify(calls)}\n`);
  }
});
lines.on('close', () => {
  void fake.close().then(() => process.exit(0));
});
