/**
 * Getting the SQLite file open: DATA_DIR checked with errors that name it and say what is
 * wrong.
 */
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const codeOf = (e: unknown): string | undefined => {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
};

/** The nearest existing part of `path` that is not a directory (what blocks an ENOTDIR). */
function blockingFile(path: string): string | undefined {
  for (let p = path, guard = 0; p !== dirname(p) && guard < 4096; p = dirname(p), guard++) {
    try {
      if (!statSync(p).isDirectory()) return p;
    } catch {
      // Missing or unreadable: look further up.
    }
  }
  return undefined;
}

/** Why a file-system call on `path` failed, in words. */
function reason(e: unknown, path: string): string {
  switch (codeOf(e)) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'ENOTDIR': {
      const file = blockingFile(path);
      return file ? `${file} is a file, not a directory` : 'a part of the path is not a directory';
    }
    default:
      return messageOf(e);
  }
}

/**
 * Makes sure `dataDir` is a directory this process can write to, creating it (and its
 * parents) when missing.
 * @throws Error naming DATA_DIR and what is wrong: "DATA_DIR ./data is a file, not a
 *   directory", "cannot create DATA_DIR /x/y: /x is a file, not a directory", "cannot
 *   write to DATA_DIR /x: permission denied".
 */
export function prepareDataDir(dataDir: string): void {
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(dataDir);
  } catch {
    // Missing, or unreachable: mkdir below says why.
  }
  if (st && !st.isDirectory()) {
    throw new Error(st.isFile() ? `DATA_DIR ${dataDir} is a file, not a directory` : `DATA_DIR ${dataDir} is not a directory`);
  }
  if (!st) {
    try {
      mkdirSync(dataDir, { recursive: true });
    } catch (e) {
      throw new Error(`cannot create DATA_DIR ${dataDir}: ${reason(e, dataDir)}`, { cause: e });
    }
  }
  try {
    accessSync(dataDir, constants.W_OK | constants.X_OK);
  } catch (e) {
    throw new Error(`cannot write to DATA_DIR ${dataDir}: ${reason(e, dataDir)}`, { cause: e });
  }
}
