/**
 * `npm run gateway` and the bot with GATEWAY_PORT, as processes: what a new user sees
 * without a port or a token, then a gateway that serves, and a SIGTERM that ends it cleanly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDiscord } from '../../fakes/fakeDiscord.ts';
import { FakeGemini } from '../../fakes/fakeGemini.ts';
import { fakeWorldEnv, freePort, portIsFree, runEntry, untilReady, waitUntil, within } from './entry.ts';

let gemini: FakeGemini;
let dataDir: string;
beforeAll(async () => {
  gemini = await FakeGemini.start({ keys: [{ key: 'test-key-1' }] });
  dataDir = mkdtempSync(join(tmpdir(), 'gateway-entry-'));
});
afterAll(async () => {
  await gemini.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}): Record<string, string> => ({
  ENV_FILE: '',
  GEMINI_API_KEY: 'test-key-1',
  GEMINI_BASE_URL: gemini.url,
  STORE: 'sqlite',
  DATA_DIR: dataDir,
  LOG_LEVEL: 'warn',
  ...extra,
});

/** Whether the gateway at `url` answers an authenticated model list. */
async function serves(url: string, token: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/v1beta/models`, { headers: { 'x-goog-api-key': token } })).status === 200;
  } catch {
    return false;
  }
}

describe('npm run gateway', () => {
  it('without GATEWAY_PORT, or without a client token, says what to do and exits 2', async () => {
    const noPort = runEntry('src/gatewayMain.ts', env());
    expect((await within(noPort.exit, 30_000, noPort.output)).code).toBe(2);
    expect(noPort.stderr()).toMatch(/GATEWAY_PORT: required for npm run gateway/);
    const noToken = runEntry('src/gatewayMain.ts', env({ GATEWAY_PORT: String(await freePort()) }));
    expect((await within(noToken.exit, 30_000, noToken.output)).code).toBe(2);
    expect(noToken.stderr()).toMatch(/no client token yet.*tokens create --name NAME/);
  });

  it('serves with a token made by the CLI, and a SIGTERM ends it with exit 0 and the port free', async () => {
    const create = runEntry('src/cli.ts', env(), undefined, ['tokens', 'create', '--name', 'scripts']);
    expect((await within(create.exit, 30_000, create.output)).code).toBe(0);
    const token = /^(gp-[A-Za-z0-9_-]{43})$/m.exec(create.stdout())![1]!;
    const port = await freePort();
    const gw = runEntry('src/gatewayMain.ts', env({ GATEWAY_PORT: String(port) }));
    const url = `http://127.0.0.1:${port}`;
    await untilReady(gw, waitUntil(() => serves(url, token), 30_000, 'the gateway to serve'), 35_000, 'the gateway serves');
    const res = await fetch(`${url}/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ parts: [{ text: 'from a script' }] }] }),
    });
    expect(res.status).toBe(200);
    expect(JSON.stringify(await res.json())).toContain('from a script');
    gw.child.kill('SIGTERM');
    expect((await within(gw.exit, 20_000, gw.output)).code).toBe(0);
    expect(await portIsFree(port)).toBe(true);
    expect(gw.output()).not.toContain(token);
  });
});

describe('npm start with GATEWAY_PORT', () => {
  it('the bot process serves the gateway too, and stops it on SIGTERM', async () => {
    const discord = await FakeDiscord.start();
    try {
      const port = await freePort();
      const bot = runEntry('src/main.ts', {
        ...fakeWorldEnv({ geminiUrl: gemini.url, discordApiUrl: discord.apiUrl, healthPort: await freePort() }),
        GATEWAY_PORT: String(port),
        GATEWAY_ALLOW_ANONYMOUS: 'true',
      });
      const url = `http://127.0.0.1:${port}`;
      await untilReady(bot, waitUntil(() => serves(url, 'none'), 30_000, 'the gateway to serve'), 35_000, 'the bot serves the gateway');
      bot.child.kill('SIGTERM');
      expect((await within(bot.exit, 30_000, bot.output)).code).toBe(0);
      expect(await portIsFree(port)).toBe(true);
    } finally {
      await discord.close();
    }
  });
});
