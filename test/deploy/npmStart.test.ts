/**
 * `npm start` is a single bot process, so a SIGTERM to it (from a process manager that
 * started `npm start`, or to the bot itself) ends in the graceful shutdown and exit 0, with
 * no process left holding HEALTH_PORT.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDiscord } from '../../fakes/fakeDiscord.ts';
import { FakeGemini } from '../../fakes/fakeGemini.ts';
import { ROOT, alive, fakeWorldEnv, freePort, portIsFree, run, untilReady, waitUntil, within, type Running } from './entry.ts';

const scripts = (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

/** Every process below `pid` (from /proc), deepest last. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // The process ended while we looked.
    }
  }
  const out: number[] = [];
  let level = [pid];
  while (level.length > 0) {
    level = [...parentOf].filter(([, ppid]) => level.includes(ppid)).map(([p]) => p);
    out.push(...level);
  }
  return out;
}

describe('npm scripts', () => {
  it('the long-running entries replace npm\'s shell with node, so the signal npm forwards reaches the bot', () => {
    // npm runs a script as `sh -c '<script>'`, and npm forwards SIGTERM to that shell only;
    // a shell that forks (dash does) dies of it and leaves node running. `exec` makes the
    // shell become node.
    for (const name of ['start', 'start:sharded', 'gateway']) expect(scripts[name], name).toMatch(/^exec node --import tsx src\/[\w/]+\.ts$/);
    // The short-lived ones run node itself too (no tsx wrapper process in between).
    for (const name of ['register', 'cli']) expect(scripts[name], name).toMatch(/^node --import tsx src\/[\w/]+\.ts$/);
  });

  describe('SIGTERM to npm start', () => {
    let gemini: FakeGemini;
    let discord: FakeDiscord;
    let npm: Running | undefined;
    let tree: number[] = [];
    beforeAll(async () => {
      gemini = await FakeGemini.start();
      discord = await FakeDiscord.start({ applicationId: '1400000000000000001', token: 'fake-bot-token' });
    });
    afterAll(async () => {
      for (const pid of [...tree, npm?.child.pid ?? 0].filter((p) => p > 0 && alive(p))) process.kill(pid, 'SIGKILL');
      await discord?.close();
      await gemini?.close();
    });

    it.skipIf(process.platform !== 'linux')('reaches the bot: npm exits 0, the bot is gone, HEALTH_PORT is free', async () => {
      const healthPort = await freePort();
      npm = run('npm', ['start', '--silent'], {
        cwd: ROOT,
        env: {
          npm_config_update_notifier: 'false',
          ...fakeWorldEnv({ geminiUrl: gemini.url, discordApiUrl: discord.apiUrl, healthPort }),
        },
      });
      const healthy = async (): Promise<boolean> => {
        try {
          return (await fetch(`http://127.0.0.1:${healthPort}/healthz`)).status === 200;
        } catch {
          return false;
        }
      };
      await untilReady(npm, waitUntil(healthy, 30_000, 'GET /healthz 200'), 31_000, 'the bot is healthy');
      tree = descendants(npm.child.pid!);
      expect(tree.length).toBeGreaterThan(0);

      npm.child.kill('SIGTERM');
      const { code } = await within(npm.exit, 20_000, () => `npm exit after SIGTERM; output:\n${npm!.output()}`);
      await waitUntil(() => tree.every((p) => !alive(p)), 5000, `no process left of ${tree.join(', ')}`);
      expect(await portIsFree(healthPort)).toBe(true);
      expect(code, npm.output()).toBe(0);
    });
  });
});
