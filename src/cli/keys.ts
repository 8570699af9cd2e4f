/**
 * `keys add` and `keys remove`: the keys operators add at runtime, from the command line.
 * Keys are read from stdin (never the command line, where shell history and `ps` would keep
 * them), checked with a cheap call, sealed with STATE_SECRET and stored; every running
 * process uses them within a second.
 */
import { addKeys, NO_STATE_SECRET, removeAddedKey, type AddedKeysDeps } from '../addedKeys.ts';
import type { CliIo } from './setup.ts';

export const KEYS_USAGE = `  npm run cli -- keys add [--project P] [--json] < keys.txt   add keys (one a line, project:key allowed), read from stdin
  npm run cli -- keys remove key#N|LAST4                      remove a key added that way`;

/** `keys add`: 0 when every key was added, 1 when any was refused, 2 without STATE_SECRET or keys. */
export async function keysAdd(deps: AddedKeysDeps, io: CliIo, text: string, project: string | undefined, json: boolean): Promise<number> {
  if (!deps.vault) {
    io.err(`keys add: ${NO_STATE_SECRET}`);
    return 2;
  }
  if (!text.trim()) {
    io.err('keys add: no keys on stdin (one a line, `project:key` allowed), e.g. npm run cli -- keys add < keys.txt');
    return 2;
  }
  const r = await addKeys(deps, text, project);
  if (json) io.out(JSON.stringify(r, null, 2));
  else {
    for (const a of r.added) io.out(`added ...${a.hint} (project ${a.group})${a.keyId ? ` as ${a.keyId}` : ''}`);
    for (const f of r.refused) io.out(`refused ${f.hint ? `...${f.hint}: ` : ''}${f.reason}`);
    io.out(`${r.added.length} added, ${r.refused.length} refused; every process sharing the store uses the new keys within a second`);
  }
  return r.refused.length > 0 ? 1 : 0;
}

/** `keys remove key#N|LAST4`: 0 removed, 1 nothing to remove, 2 without STATE_SECRET or a name. */
export async function keysRemove(deps: AddedKeysDeps, io: CliIo, which: string | undefined): Promise<number> {
  if (!deps.vault) {
    io.err(`keys remove: ${NO_STATE_SECRET}`);
    return 2;
  }
  if (!which) {
    io.err('keys remove: name the key: its key#N (npm run cli -- stats) or its last four characters');
    return 2;
  }
  const r = await removeAddedKey(deps, which);
  if (!r.ok) {
    io.err(`keys remove: ${r.reason}`);
    return 1;
  }
  io.out(`removed ...${r.hint}; every process sharing the store stops using it within a second`);
  return 0;
}
