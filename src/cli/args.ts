/**
 * Flags of the store commands (`tokens`, `logs`): parsed strictly, and every mistake
 * turned into one line that says what to write instead. A {@link UsageError} ends the
 * command with exit code 2.
 */
import { parseArgs } from 'node:util';
import { shown } from '../configEcho.ts';

/** Bad input on the command line: one line, exit code 2. */
export class UsageError extends Error {
  readonly brand = 'UsageError' as const;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const isUsageError = (e: unknown): e is UsageError => e instanceof Error && (e as { brand?: string }).brand === 'UsageError';

type Spec = Record<string, { type: 'string' | 'boolean' }>;
type Values<S extends Spec> = { [K in keyof S]?: S[K]['type'] extends 'boolean' ? boolean : string };

/**
 * Parses `args` of `command` against `spec`, allowing at most `positionals` plain arguments.
 * @throws UsageError naming the unknown flag, the flag missing its value or the extra argument.
 */
export function parseFlags<S extends Spec>(command: string, args: readonly string[], spec: S, positionals = 0): { values: Values<S>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: spec, allowPositionals: true, strict: true });
  } catch (e) {
    const code = (e as { code?: string }).code;
    const quoted = /'([^']*)'/.exec((e as Error).message)?.[1] ?? '';
    const flag = quoted.split(' ')[0] ?? '';
    const known = Object.keys(spec).map((k) => `--${k}`).join(', ');
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`${command}: unknown option ${shown(flag)} (it takes ${known || 'no options'})`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`${command}: ${flag} needs a value`);
    throw new UsageError(`${command}: ${(e as Error).message}`);
  }
  if (parsed.positionals.length > positionals) {
    throw new UsageError(`${command}: unexpected argument ${shown(parsed.positionals[positionals]!)}`);
  }
  return { values: parsed.values as Values<S>, positionals: parsed.positionals };
}

/**
 * A whole number >= `min` given to `flag` of `command`.
 * @throws UsageError showing what was given.
 */
export function wholeNumber(command: string, flag: string, value: string, min = 1): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`${command}: --${flag} must be a whole number >= ${min} (got ${shown(value)})`);
  return n;
}
