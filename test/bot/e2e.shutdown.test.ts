/**
 * End to end through `src/main.ts` (what `npm start` runs) in a child process: a request
 * in flight when SIGTERM arrives still gets its answer, a new command gets "restarting",
 * and the process exits 0; one that outlasts the grace period is cancelled and its user
 * told. Bad configuration exits 2 with one line per problem.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureText } from '../../src/bot/userText.ts';
import { FakeDiscord } from '../../fakes/fakeDiscord.ts';
import { FakeGemini } from '../../fakes/fakeGemini.ts';
import { APP_ID, CHANNEL_ID, GUILD_ID, OWNER_ID, alice, bob, str, testKeys, worldEnv } from './harness.ts';

const ROOT = resolve(import.meta.dirname, '../..');
// What `npm start` runs: one node process (no tsx wrapper in between to relay signals).
const NODE_TSX = [process.execPath, '--import', 'tsx'] as const;

/** Starts `tsx src/main.ts` with exactly this environment (plus PATH). */
function startMain(env: Record<string, string>): { child: ChildProcess; exit: Promise<number | null>; output: () => string } {
  const child = spawn(NODE_TSX[0], [...NODE_TSX.slice(1), 'src/main.ts'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolveExit) => child.on('exit', (code) => resolveExit(code)));
  return { child, exit, output: () => output };
}

/** Rejects after `ms`, so no wait here is unbounded. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref())]);
}

describe('npm start: graceful shutdown', () => {
  let discord: FakeDiscord;
  let gemini: FakeGemini;
  let running: ChildProcess | undefined;
  beforeAll(async () => {
    gemini = await FakeGemini.start({ latencyMs: 1500 });
    discord = await FakeDiscord.start({
      applicationId: APP_ID,
      guilds: [{ id: GUILD_ID, ownerId: OWNER_ID, channels: [{ id: CHANNEL_ID, name: 'general' }] }],
    });
  });
  afterAll(async () => {
    running?.kill('SIGKILL');
    await discord?.close();
    await gemini?.close();
  });

  it('finishes the answer in flight, refuses new commands, exits 0', async () => {
    const keys = testKeys(2);
    const main = startMain(worldEnv(discord, gemini, keys, { LOG_LEVEL: 'info' }));
    running = main.child;
    await within(discord.waitForReady(20_000), 21_000, `bot ready; output: ${main.output()}`);
    const asked = await discord.sendCommand({ name: 'ask', options: [str('prompt', 'finish me')], user: alice, channelId: CHANNEL_ID });
    await asked.waitForResponse(5000);
    // Gemini answers after 1.5 s: the bot is mid-request now.
    await discord.waitFor(() => gemini.requests.length > 0, 5000);
    main.child.kill('SIGTERM');
    await discord.waitFor(() => main.output().includes('shutting down'), 5000);
    const late = await discord.sendCommand({ name: 'ask', options: [str('prompt', 'too late')], user: bob, channelId: CHANNEL_ID });
    await late.waitForResponse(5000);
    expect(late.ephemeral()).toBe(true);
    expect(late.original()!.content).toContain('restarting');

    const code = await within(main.exit, 15_000, `exit; output: ${main.output()}`);
    running = undefined;
    expect(code).toBe(0);
    expect(asked.original()!.content).toMatch(/^echo: finish me\n-# gemini-2\.5-flash/);
    const payloads = JSON.stringify(discord.calls.map((c) => c.body));
    for (const k of keys) expect(payloads.includes(k)).toBe(false);
  });

  it('answers that never come: after the grace each user gets one line, and the process exits 0', async () => {
    gemini.inject({ type: 'hang' }, { times: Number.POSITIVE_INFINITY });
    try {
      const main = startMain(worldEnv(discord, gemini, testKeys(2), { LOG_LEVEL: 'info', SHUTDOWN_GRACE_MS: '500' }));
      running = main.child;
      await within(discord.waitForReady(20_000), 21_000, `bot ready; output: ${main.output()}`);
      const hung = gemini.requests.filter((r) => r.fault === 'hang').length;
      const asked = await discord.sendCommand({ name: 'ask', options: [str('prompt', 'never answered')], user: alice, channelId: CHANNEL_ID });
      await asked.waitForResponse(5000);
      await discord.waitFor(() => gemini.requests.filter((r) => r.fault === 'hang').length > hung, 5000);
      main.child.kill('SIGTERM');
      // Gemini never answers: only cancelling it lets the process end.
      const code = await within(main.exit, 15_000, `exit; output: ${main.output()}`);
      running = undefined;
      expect(code).toBe(0);
      expect(main.output()).toContain('grace period over; cancelling what is in flight');
      expect(asked.original()!.content).toBe(failureText({ kind: 'interrupted' }));
    } finally {
      gemini.clearFaults();
    }
  });

  it('npm run register: registers to the guild (application id read from Discord when not set)', async () => {
    const env = worldEnv(discord, gemini, testKeys(1), { LOG_LEVEL: 'warn' });
    delete env.DISCORD_APPLICATION_ID;
    discord.commands.guild.delete(GUILD_ID);
    const child = spawn(NODE_TSX[0], [...NODE_TSX.slice(1), 'src/bot/register.ts'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await within(new Promise<number | null>((r) => child.on('exit', r)), 15_000, 'register exit');
    expect(code, output).toBe(0);
    expect(output).toContain(`to guild ${GUILD_ID}`);
    expect((discord.commands.guild.get(GUILD_ID) ?? []).map((c: { name: string }) => c.name).sort()).toEqual(
      ['Ask Gemini about this', 'api-key-stats', 'art', 'ask', 'chat', 'chat-end', 'pool-stats', 'reset-api-stats', 'reset-pool', 'settings', 'status', 'usage'],
    );
  });

  it('bad configuration: exit 2, one line per problem, no stack trace, no secret', async () => {
    const main = startMain({ DISCORD_TOKEN: 'secret-token-value', GEMINI_API_KEYS: 'test-key-1', EDIT_INTERVAL_MS: '10', STORE: 'nope' });
    const code = await within(main.exit, 15_000, 'exit');
    expect(code).toBe(2);
    const out = main.output();
    expect(out).toContain('EDIT_INTERVAL_MS');
    expect(out).toContain('STORE');
    expect(out).not.toMatch(/\n\s+at /);
    expect(out).not.toContain('secret-token-value');
    expect(out).not.toContain('test-key-1');
  });
});
