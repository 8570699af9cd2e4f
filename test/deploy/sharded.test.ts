/**
 * `npm run start:sharded` under a process manager: the SIGTERM it sends reaches the manager
 * only; every shard must still get its graceful shutdown, and the manager exits 0 with no
 * shard left running.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDiscord } from '../../fakes/fakeDiscord.ts';
import { FakeGemini } from '../../fakes/fakeGemini.ts';
import { startRedis, type RedisServer } from '../../fakes/redisServer.ts';
import { alive, runEntry, untilReady, waitUntil, within, type Running } from './entry.ts';

/** Pids whose parent is `pid` and whose command line mentions `what` (from /proc). */
function childrenOf(pid: number, what: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(what)) out.push(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return out;
}

describe.skipIf(process.platform !== 'linux')('SIGTERM to npm run start:sharded', () => {
  let redis: RedisServer;
  let gemini: FakeGemini;
  let discord: FakeDiscord;
  let manager: Running | undefined;
  let shards: number[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    gemini = await FakeGemini.start();
    discord = await FakeDiscord.start({ applicationId: '1500000000000000001', token: 'fake-bot-token' });
  });
  afterAll(async () => {
    for (const pid of [...shards, manager?.child.pid ?? 0].filter((p) => p > 0 && alive(p))) process.kill(pid, 'SIGKILL');
    await discord?.close();
    await gemini?.close();
    await redis?.stop();
  });

  it('stops the shard gracefully, then exits 0 with nothing left', async () => {
    manager = runEntry('src/shard.ts', {
      ENV_FILE: '',
      GEMINI_API_KEY: 'test-key-1',
      GEMINI_BASE_URL: gemini.url,
      DISCORD_TOKEN: 'fake-bot-token',
      DISCORD_API_URL: discord.apiUrl,
      STORE: 'redis',
      REDIS_URL: redis.url,
      SHARD_COUNT: '1',
      LOG_LEVEL: 'info',
    });
    await untilReady(manager, discord.waitFor(() => discord.connected, 30_000), 31_000, 'the shard logged in');
    shards = childrenOf(manager.child.pid!, 'src/main.ts');
    expect(shards).toHaveLength(1);

    manager.child.kill('SIGTERM');
    const { code } = await within(manager.exit, 25_000, () => `manager exit; output:\n${manager!.output()}`);
    expect(code, manager.output()).toBe(0);
    // The shard shut down by itself (its own graceful stop logs it), not by being orphaned.
    await waitUntil(() => shards.every((p) => !alive(p)), 5000, `shard ${shards.join(', ')} gone`);
    expect(manager.output()).toMatch(/stopping the shards/);
    expect(manager.output()).not.toMatch(/shard process exited/);
  }, 60_000);
});
