/**
 * The gateway in a process of its own, for `bench/gatewayOverhead.ts`: the real pool (10
 * keys on the fake Gemini at the URL given as the first argument) served by the real server
 * on 127.0.0.1, a memory store with one client token. Prints `{ url, token }` as one JSON
 * line once it listens; stops when stdin closes.
 */
import pino from 'pino';
import { loadConfig } from '../src/config.ts';
import { openGateway } from '../src/gateway/open.ts';
import { TokenRegistry } from '../src/gateway/tokens.ts';
import { createServices } from '../src/services.ts';
import { MODEL } from './common.ts';

const fakeUrl = process.argv[2];
if (!fakeUrl) throw new Error('usage: gatewayServer.ts FAKE_URL');
const keys = Array.from({ length: 10 }, (_, i) => `bench-key-${i + 1}`);
const config = loadConfig({
  GEMINI_API_KEYS: keys.join(','),
  GEMINI_BASE_URL: fakeUrl,
  GEMINI_MODELS: MODEL,
  GEMINI_POOL_SIZE: '10',
  STORE: 'memory',
  GATEWAY_PORT: '0',
  LOG_LEVEL: 'silent',
});
const logger = pino({ level: 'silent' });
const services = await createServices(config, logger);
const { token } = await new TokenRegistry(services.store).create({ name: 'bench' });
const gateway = await openGateway(config, services.pool, services.store, logger);
process.stdout.write(`${JSON.stringify({ url: gateway.url, token })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void (async () => {
    await gateway.close(1_000);
    await services.pool.close();
    await services.store.close();
    process.exit(0);
  })();
});
