/**
 * deploy/gemini-pool-bot.service: `systemd-analyze verify` finds nothing to say, and exactly
 * what its ExecStart runs, started from the repository root against the fake Discord and
 * Gemini, becomes ready, takes SIGTERM, exits 0 and leaves nothing running (its pid is gone,
 * HEALTH_PORT is free).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, dirname, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDiscord } from '../../fakes/fakeDiscord.ts';
import { FakeGemini } from '../../fakes/fakeGemini.ts';
import { ROOT, alive, fakeWorldEnv, freePort, portIsFree, run, untilReady, waitUntil, within, type Running } from './entry.ts';

const UNIT = resolve(ROOT, 'deploy/gemini-pool-bot.service');

/** The unit's `[Service]` settings: every `Key=value`, in order (keys may repeat). */
function serviceSettings(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) section = header[1]!;
    else if (section === 'Service') {
      const eq = line.indexOf('=');
      out.push([line.slice(0, eq), line.slice(eq + 1)]);
    }
  }
  return out;
}

const settings = serviceSettings(readFileSync(UNIT, 'utf8'));
const setting = (key: string): string | undefined => settings.filter(([k]) => k === key).at(-1)?.[1];

const systemdAnalyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const haveSystemdAnalyze = systemdAnalyze.error === undefined && systemdAnalyze.status === 0;

describe('deploy/gemini-pool-bot.service', () => {
  it.skipIf(!haveSystemdAnalyze)('systemd-analyze verify is clean (skipped only when systemd-analyze is not installed: Debian package systemd)', () => {
    const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8', timeout: 15_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.trim()).toBe('');
    expect(r.stdout.trim()).toBe('');
  });

  it('stops with SIGTERM, restarts after a crash but not after bad configuration, waits longer than the grace', () => {
    expect(setting('KillSignal')).toBe('SIGTERM');
    expect(setting('Restart')).toBe('on-failure');
    expect(setting('RestartPreventExitStatus')).toBe('2');
    // SHUTDOWN_GRACE_MS is 10 s by default; the stop needs a few seconds more than that.
    expect(Number(setting('TimeoutStopSec'))).toBeGreaterThanOrEqual(15);
    expect(setting('NoNewPrivileges')).toBe('yes');
    expect(setting('User')).toMatch(/^(?!root$)\w[\w-]*$/);
    expect(setting('WorkingDirectory')).toMatch(/^\//);
    expect(setting('EnvironmentFile')).toMatch(/^-\//);
  });

  describe('what ExecStart runs', () => {
    let gemini: FakeGemini;
    let discord: FakeDiscord;
    let bot: Running | undefined;
    beforeAll(async () => {
      gemini = await FakeGemini.start();
      discord = await FakeDiscord.start({ applicationId: '1300000000000000001', token: 'fake-bot-token' });
    });
    afterAll(async () => {
      bot?.child.kill('SIGKILL');
      await discord?.close();
      await gemini?.close();
    });

    it('becomes ready, exits 0 on SIGTERM and leaves nothing behind', async () => {
      const [command, ...args] = setting('ExecStart')!.split(/\s+/);
      const unitEnv = Object.fromEntries(
        settings.filter(([k]) => k === 'Environment').flatMap(([, v]) => v.split(/\s+/).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
      );
      const healthPort = await freePort();
      bot = run(command!, args, {
        cwd: ROOT,
        env: {
          ...unitEnv,
          // This node first, as systemd's PATH would find the system's.
          PATH: [dirname(process.execPath), process.env.PATH ?? ''].join(delimiter),
          ...fakeWorldEnv({ geminiUrl: gemini.url, discordApiUrl: discord.apiUrl, healthPort }),
        },
      });
      const pid = bot.child.pid!;
      const healthy = async (): Promise<boolean> => {
        try {
          return (await fetch(`http://127.0.0.1:${healthPort}/healthz`)).status === 200;
        } catch {
          return false;
        }
      };
      await untilReady(bot, waitUntil(healthy, 30_000, 'GET /healthz 200'), 31_000, 'the bot is healthy');
      expect(discord.connected).toBe(true);

      bot.child.kill('SIGTERM');
      const { code, signal } = await within(bot.exit, 20_000, () => `exit after SIGTERM; output:\n${bot!.output()}`);
      expect({ code, signal }, bot.output()).toEqual({ code: 0, signal: null });
      bot = undefined;
      // The pid spawned was the bot itself (env execs node): it is gone, and so is its port.
      await waitUntil(() => !alive(pid), 5000, `pid ${pid} gone`);
      expect(await portIsFree(healthPort)).toBe(true);
    });
  });
});
