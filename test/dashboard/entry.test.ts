/**
 * `npm run gateway` with DASHBOARD_PASSWORD in `.env`: the dashboard is served on a fresh
 * install (no client token yet: it is where the first one is made), the settings page says
 * which values came from the file and which from the environment, and SIGTERM stops it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeGemini } from '../../fakes/fakeGemini.ts';
import { freePort, runEntry, untilReady, waitUntil, within, type Running } from '../deploy/entry.ts';
import { PASSWORD, postLogin, request } from './world.ts';

let running: Running | undefined;
let fake: FakeGemini | undefined;
let dir: string | undefined;
afterEach(async () => {
  running?.child.kill('SIGKILL');
  running = undefined;
  await fake?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm run gateway with the dashboard on', () => {
  it('serves /dashboard on a fresh install, with the sources of the settings, and stops on SIGTERM', async () => {
    fake = await FakeGemini.start();
    dir = mkdtempSync(join(tmpdir(), 'dashboard-entry-'));
    const port = await freePort();
    writeFileSync(join(dir, '.env'), `GEMINI_API_KEY=test-key-1\nGEMINI_BASE_URL=${fake.url}\nDASHBOARD_PASSWORD=${PASSWORD}\nSTORE=sqlite\nDATA_DIR=${join(dir, 'data')}\n`);
    running = runEntry('src/gatewayMain.ts', { GATEWAY_PORT: String(port), LOG_LEVEL: 'warn' }, dir);
    const url = `http://127.0.0.1:${port}`;
    await untilReady(running, waitUntil(async () => (await fetch(`${url}/dashboard/login`).then((r) => r.status, () => 0)) === 200, 30_000, 'the dashboard answers'), 31_000, 'the dashboard answers');
    const signedIn = await postLogin(url, PASSWORD);
    expect(signedIn.status).toBe(303);
    const cookie = signedIn.headers.getSetCookie().find((c) => c.startsWith('gp_dash='))!.split(';')[0]!;
    const settings = await (await request(`${url}/dashboard/settings`, { headers: { cookie } })).text();
    expect(settings).toMatch(/GEMINI_API_KEY<\/th><td class="mono">1 key \(hidden\)<\/td><td class="">\.env file<\/td>/);
    expect(settings).toMatch(/GATEWAY_PORT<\/th><td class="mono">\d+<\/td><td class="">environment<\/td>/);
    expect(settings).not.toContain('test-key-1');
    expect(settings).not.toContain(PASSWORD);
    // No client token yet: the gateway's routes answer 401 until one is made.
    expect((await fetch(`${url}/v1/models`)).status).toBe(401);
    expect(running.output()).toMatch(/no client token yet/);
    running.child.kill('SIGTERM');
    const { code } = await within(running.exit, 20_000, () => running!.output());
    expect(code).toBe(0);
    expect(running.output()).not.toContain('test-key-1');
    expect(running.output()).not.toContain(PASSWORD);
  });
});
