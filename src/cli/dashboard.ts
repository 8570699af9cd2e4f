/**
 * `dashboard hash-password`: the scrypt hash DASHBOARD_PASSWORD_HASH takes, of a password read
 * from stdin (never the command line, where shell history and `ps` would keep it). Needs no
 * configuration.
 */
import { hashPassword, MIN_PASSWORD_CHARS } from '../gateway/dashboard/password.ts';
import type { CliIo } from './setup.ts';

export const DASHBOARD_USAGE = '  npm run cli -- dashboard hash-password              prints DASHBOARD_PASSWORD_HASH for a password read from stdin';

/** Runs `dashboard ...`; `readPassword` gives the first line of stdin (or what was typed, unechoed). */
export async function dashboardCommand(args: readonly string[], io: CliIo, readPassword: (() => Promise<string>) | undefined): Promise<number> {
  if (args[0] !== 'hash-password' || args.length > 1) {
    io.err(`Usage:\n${DASHBOARD_USAGE}`);
    return 2;
  }
  if (!readPassword) {
    io.err('dashboard hash-password: reads the password from stdin');
    return 2;
  }
  const password = (await readPassword()).replace(/\r?\n$/, '');
  if (password.length < MIN_PASSWORD_CHARS) {
    io.err(`dashboard hash-password: the password must be at least ${MIN_PASSWORD_CHARS} characters`);
    return 2;
  }
  io.out(await hashPassword(password));
  io.err('Put it in .env as DASHBOARD_PASSWORD_HASH=... (and leave DASHBOARD_PASSWORD unset).');
  return 0;
}
