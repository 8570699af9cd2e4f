/**
 * A real redis-server for the Redis store tests and the store benchmark: own process,
 * loopback only, no persistence, a free port. Fails loudly when redis-server is not
 * installed (CI installs it; see .ci/run). The vitest hooks around it are in
 * test/store/redisServer.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { delimiter, join } from 'node:path';

export interface RedisServer {
  url: string;
  port: number;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL, at once: a crash. */
  kill(): void;
  /** Starts the server again on the same port (after `kill` or `stop`). */
  restart(): Promise<void>;
}

/** The redis-server binary, from REDIS_SERVER or PATH (plus /usr/bin, /usr/sbin). */
export function findRedisServer(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  const candidates = process.env.REDIS_SERVER ? [process.env.REDIS_SERVER] : dirs.filter(Boolean).map((d) => join(d, 'redis-server'));
  for (const p of candidates) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** One PING over a raw socket; true on +PONG. */
function ping(port: number, timeoutMs = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Starts a redis-server on a free loopback port and waits (at most 5 s) until it answers PING. */
export async function startRedis(): Promise<RedisServer> {
  const bin = findRedisServer();
  if (!bin) {
    throw new Error(
      'redis-server is not installed: the Redis store tests need it. ' +
        'Install it with `apt-get install -y redis-server` (Debian/Ubuntu) or set REDIS_SERVER=/path/to/redis-server' +
        (process.env.REDIS_SERVER ? ` (REDIS_SERVER=${process.env.REDIS_SERVER} is not an executable file).` : '.'),
    );
  }
  const port = await freePort();
  let child: ChildProcess | undefined;
  let stderr = '';

  const launch = async (): Promise<void> => {
    stderr = '';
    const c = spawn(
      bin,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--loglevel', 'warning'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = c;
    live.add(c);
    c.stderr?.on('data', (d) => (stderr += d.toString()));
    let exited = false;
    c.once('exit', () => {
      exited = true;
      live.delete(c);
    });
    c.once('error', (e) => {
      exited = true;
      stderr += String(e);
    });
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`redis-server exited at start on port ${port}: ${stderr.trim()}`);
      if (await ping(port)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    c.kill('SIGKILL');
    throw new Error(`redis-server on port ${port} did not answer PING within 5 s: ${stderr.trim()}`);
  };

  const waitExit = (c: ChildProcess, timeoutMs: number): Promise<void> =>
    new Promise((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      const timer = setTimeout(() => {
        c.kill('SIGKILL');
        resolve();
      }, timeoutMs);
      c.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      if (!child) return;
      const c = child;
      child = undefined;
      c.kill('SIGTERM');
      await waitExit(c, 3_000);
    },
    kill() {
      child?.kill('SIGKILL');
      child = undefined;
    },
    async restart() {
      if (child) {
        const c = child;
        child = undefined;
        c.kill('SIGKILL');
        await waitExit(c, 3_000);
      }
      await launch();
    },
  };
}
