/**
 * The state of every key, and the only writer of it: disabled (per key, or per project for
 * billing), cooling (per project and model for quota, per key and model for server errors
 * and for soft cooldowns: 503s or timeouts of the key's own, see `isSoft`), and the streak
 * of bare 429s per project and model. Every change is told once, through
 * {@link KeyStates.onChange}: persistence, logs, pool events and instance rebinding all
 * listen there. See docs/ARCHITECTURE.md, "The key-state machine".
 *
 * Pure: no clock of its own (every call takes `now`), no I/O, no timers.
 */
import { capUntil, isSoft, type Cooling } from './cooldown.ts';
import type { Classified } from '../gemini/classify.ts';
import type { PoolKey } from './keys.ts';
import type { Decision } from './policy.ts';
import type { KeyState } from './types.ts';

export type Disabled = Extract<KeyState, { status: 'disabled' }>;

/** Who made a change: this process's policy or an admin, the store at load, or another process. */
export type ChangeSource = 'local' | 'stored' | 'remote';

/** One change of key state, told to every listener. `keys` are key indexes. */
export type StateChange =
  | {
      type: 'cooling';
      /** `group`: every key of the project; `key`: one key. */
      scope: 'group' | 'key';
      /** The key whose failure (or stored state) started it. */
      by: number;
      keys: readonly number[];
      model: string;
      cooling: Cooling;
      source: ChangeSource;
      /** The cooldown asked for was longer than any may be, and was cut to the ceiling. */
      capped: boolean;
    }
  | { type: 'disabled'; scope: 'group' | 'key'; by: number; keys: readonly number[]; disabled: Disabled; source: ChangeSource }
  /** A key (and its project) usable again: `keys` lost their disable, `back` are usable now. */
  | { type: 'enabled'; keys: readonly number[]; back: readonly number[]; source: ChangeSource; byOperator?: true }
  /**
   * Cooldowns that ended: by time (`expired`), an admin (`cleared`), a pool reset (`reset`),
   * or soft cooldowns that gave way (`released`: the overload is every key's, or no other key
   * could take a request).
   */
  | { type: 'ended'; keys: readonly number[]; model: string; cause: 'expired' | 'cleared' | 'reset' | 'released'; source: ChangeSource }
  /** A key joined the pool while it runs (`keys` holds its index). */
  | { type: 'added'; keys: readonly number[]; source: ChangeSource }
  /** A key left the pool for good: it keeps its index and is never usable again. */
  | { type: 'retired'; keys: readonly number[]; source: ChangeSource };

interface GroupState {
  readonly members: number[];
  disabled: Disabled | undefined;
  /** Made on first use, like every map here: most keys never cool (1,000 keys, 1,000 maps fewer). */
  cooling: Map<string, Cooling> | undefined;
  bareRateLimits: Map<string, number> | undefined;
}

interface KeyEntry {
  readonly group: GroupState;
  disabled: Disabled | undefined;
  cooling: Map<string, Cooling> | undefined;
  /** Removed from the pool: never usable again, in no project's members. */
  retired: boolean;
}

/** Per-key and per-project state, keyed by key index, project and model (no joined strings). */
export class KeyStates {
  readonly #keys: KeyEntry[] = [];
  readonly #groups = new Map<string, GroupState>();
  readonly #listeners: Array<(change: StateChange) => void> = [];
  /** Disabled keys and projects, and removed keys: while 0, every key is enabled. */
  #disabledCount = 0;
  #retiredCount = 0;
  #coolingCount = 0;
  /** The earliest end of any cooldown: nothing to sweep before. */
  #nextExpiry = Infinity;

  constructor(
    keys: readonly PoolKey[],
    private readonly maxCooldownMs: number,
  ) {
    for (const k of keys) this.#addEntry(k);
  }

  #addEntry(k: PoolKey): void {
    if (k.index !== this.#keys.length) throw new RangeError(`key index ${k.index} out of order (expected ${this.#keys.length})`);
    let g = this.#groups.get(k.group);
    // A literal of one: most projects are one key, and an array grown by push reserves 17.
    if (!g) this.#groups.set(k.group, (g = { members: [k.index], disabled: undefined, cooling: undefined, bareRateLimits: undefined }));
    else g.members.push(k.index);
    this.#keys.push({ group: g, disabled: undefined, cooling: undefined, retired: false });
  }

  /**
   * A key joins while the pool runs (its index is the next one). It shares its project's
   * state at once: a project that is cooling or disabled holds the new key too.
   */
  addKey(k: PoolKey, source: ChangeSource): void {
    this.#addEntry(k);
    this.#tell({ type: 'added', keys: [k.index], source });
  }

  /**
   * Removes a key for good: never usable again, out of its project's members (its project's
   * cooldowns and disables no longer name it). Returns false when it was removed already.
   */
  retire(index: number, source: ChangeSource): boolean {
    const k = this.#keys[index]!;
    if (k.retired) return false;
    k.retired = true;
    this.#retiredCount++;
    this.#disabledCount++;
    const members = k.group.members;
    const at = members.indexOf(index);
    if (at >= 0) members.splice(at, 1);
    this.#tell({ type: 'retired', keys: [index], source });
    return true;
  }

  /** Whether the key was removed from the pool. */
  retired(index: number): boolean {
    return this.#keys[index]!.retired;
  }

  /** Hears every change, after it is made. Returns the function that stops it. */
  onChange(listener: (change: StateChange) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  #tell(change: StateChange): void {
    for (const l of this.#listeners) l(change);
  }

  /** Key indexes of a project (the key's own when it has none). */
  members(index: number): readonly number[] {
    return this.#keys[index]!.group.members;
  }

  /** Usable for `model` at `now`: neither disabled nor cooling. On the hot path of every pick: allocates nothing. */
  usable(index: number, model: string, now: number): boolean {
    if (this.#disabledCount > 0) {
      const k = this.#keys[index]!;
      if (k.disabled !== undefined || k.group.disabled !== undefined || k.retired) return false;
    }
    if (this.#coolingCount === 0) return true;
    const k = this.#keys[index]!;
    const g = k.group.cooling?.get(model);
    if (g !== undefined && g.until > now) return false;
    const c = k.cooling?.get(model);
    return c === undefined || c.until <= now;
  }

  /** Why the key is disabled (its own disable first, then its project's), if it is. */
  disabled(index: number): Disabled | undefined {
    const k = this.#keys[index]!;
    return k.disabled ?? k.group.disabled;
  }

  /** Whether any key or project is disabled (removed keys aside). */
  get anyDisabled(): boolean {
    return this.#disabledCount - this.#retiredCount > 0;
  }

  /** The state of one key for one model at `now`: disabled, else the longest live cooldown, else active. */
  /** The live cooldown of a key for a model (its own or its project's, the later ending), if any; disabled aside. */
  cooling(index: number, model: string, now: number): Cooling | undefined {
    const k = this.#keys[index]!;
    const g = k.group.cooling?.get(model);
    const c = k.cooling?.get(model);
    const liveG = g !== undefined && g.until > now ? g : undefined;
    const liveC = c !== undefined && c.until > now ? c : undefined;
    if (liveG && liveC) return liveC.until > liveG.until ? liveC : liveG;
    return liveG ?? liveC;
  }

  state(index: number, model: string, now: number): KeyState {
    const k = this.#keys[index]!;
    const disabled = k.disabled ?? k.group.disabled;
    if (disabled) return disabled;
    return this.cooling(index, model, now) ?? { status: 'active' };
  }

  /** The earliest end of any cooldown (Infinity when none): {@link sweep} has nothing to do before. */
  get nextExpiry(): number {
    return this.#nextExpiry;
  }

  /** Bare 429s in a row for the key's project and model. */
  bareRateLimits(index: number, model: string): number {
    return this.#keys[index]!.group.bareRateLimits?.get(model) ?? 0;
  }

  setBareRateLimits(index: number, model: string, n: number): void {
    const g = this.#keys[index]!.group;
    if (n === 0) g.bareRateLimits?.delete(model);
    else (g.bareRateLimits ??= new Map()).set(model, n);
  }

  /**
   * Carries out what the policy decided about a failure of this process's attempt or check:
   * the bare-429 streak, a cooldown, a disable.
   */
  apply(d: Decision, index: number, model: string, err: Classified, now: number): void {
    if (d.streaks.bareRateLimits !== this.bareRateLimits(index, model)) this.setBareRateLimits(index, model, d.streaks.bareRateLimits);
    if (d.cool) this.cool(d.cool.scope, index, model, { status: 'cooling', until: d.cool.until, reason: d.cool.reason ?? err.message, kind: err.kind }, now, 'local');
    if (d.disable) this.disable(d.disable.scope, index, { status: 'disabled', since: now, reason: d.disable.reason, kind: err.kind }, 'local');
  }

  /**
   * Cools the key's project (`group`) or the key alone for `model`. The end is capped at the
   * ceiling of its kind. A cooldown that ends no later than the one in place changes nothing.
   * Returns whether it changed anything.
   */
  cool(scope: 'group' | 'key', index: number, model: string, cooling: Cooling, now: number, source: ChangeSource): boolean {
    const k = this.#keys[index]!;
    const owner = scope === 'group' ? k.group : k;
    const map = (owner.cooling ??= new Map());
    const until = capUntil(cooling.kind, cooling.until, now, this.maxCooldownMs);
    const capped = until < cooling.until;
    const prev = map.get(model);
    if (prev && prev.until >= until) return false;
    const value: Cooling = capped || source !== 'local' ? { ...cooling, until } : cooling;
    if (!prev) this.#coolingCount++;
    map.set(model, value);
    if (until < this.#nextExpiry) this.#nextExpiry = until;
    this.#tell({ type: 'cooling', scope, by: index, keys: scope === 'group' ? k.group.members : [index], model, cooling: value, source, capped });
    return true;
  }

  /**
   * Disables the key, or its whole project. A second disable changes nothing, except that
   * an operator's disable (`manual`) of a key replaces a policy's: only an operator lifts it.
   */
  disable(scope: 'group' | 'key', index: number, disabled: Disabled, source: ChangeSource): boolean {
    const k = this.#keys[index]!;
    const owner = scope === 'group' ? k.group : k;
    const replaces = scope === 'key' && disabled.manual === true && owner.disabled !== undefined && owner.disabled.manual !== true;
    if (owner.disabled && !replaces) return false;
    owner.disabled = source === 'local' ? disabled : { ...disabled };
    if (!replaces) this.#disabledCount++;
    this.#tell({ type: 'disabled', scope, by: index, keys: scope === 'group' ? k.group.members : [index], disabled: owner.disabled, source });
    return true;
  }

  /**
   * The key and its project usable again (a passing check, an operator, or another process
   * or the store said so). A key an operator disabled stays disabled unless `byOperator`
   * (or the change comes from another process or the store, where an operator lifted it).
   */
  enable(index: number, source: ChangeSource, byOperator = false): boolean {
    const k = this.#keys[index]!;
    const keepsManual = k.disabled?.manual === true && source === 'local' && !byOperator;
    const wasKey = k.disabled !== undefined && !keepsManual;
    const wasGroup = k.group.disabled !== undefined;
    if (!wasKey && !wasGroup) return false;
    if (wasKey) (k.disabled = undefined), this.#disabledCount--;
    if (wasGroup) (k.group.disabled = undefined), this.#disabledCount--;
    const keys = wasGroup ? k.group.members : [index];
    const back = (wasGroup ? keys : [index]).filter((i) => this.#keys[i]!.disabled === undefined);
    this.#tell({ type: 'enabled', keys, back, source, ...(byOperator ? { byOperator: true as const } : {}) });
    return true;
  }

  /**
   * Ends the cooldowns of `indexes` for `models` now (a project's for all its keys) and their
   * bare-429 streaks (with `projects: false`, only the keys' own cooldowns). Told as one
   * `ended` change per model. Returns the keys whose cooldown ended, in the order found.
   */
  clear(indexes: Iterable<number>, models: readonly string[], source: ChangeSource, cause: 'cleared' | 'reset' | 'released' = 'cleared', projects = true): Set<number> {
    const list = [...indexes];
    const all = new Set<number>();
    for (const model of models) {
      const ended = new Set<number>();
      for (const i of list) {
        const k = this.#keys[i]!;
        if (this.#delete(k.cooling, model)) ended.add(i);
        if (projects) {
          if (this.#delete(k.group.cooling, model)) for (const m of k.group.members) ended.add(m);
          k.group.bareRateLimits?.delete(model);
        }
      }
      for (const i of ended) all.add(i);
      if (ended.size > 0) this.#tell({ type: 'ended', keys: [...ended], model, cause, source });
    }
    return all;
  }

  /** Whether the key's own live cooldown for `model` is a soft one (see `isSoft`). */
  softCooling(index: number, model: string, now: number): boolean {
    const c = this.#keys[index]!.cooling?.get(model);
    return c !== undefined && c.until > now && isSoft(c);
  }

  /**
   * Ends every soft cooldown of `model` now, told as one `ended` change (`released`). Returns
   * the keys that were released.
   */
  releaseSoft(model: string, now: number): number[] {
    if (this.#coolingCount === 0) return [];
    const soft: number[] = [];
    for (let i = 0; i < this.#keys.length; i++) if (this.softCooling(i, model, now)) soft.push(i);
    return soft.length === 0 ? soft : [...this.clear(soft, [model], 'local', 'released', false)];
  }

  #delete(map: Map<string, Cooling> | undefined, model: string): boolean {
    if (!map?.delete(model)) return false;
    this.#coolingCount--;
    return true;
  }

  /** Drops the cooldowns that ended by `now`, told as `ended` (`expired`). */
  sweep(now: number): void {
    if (now < this.#nextExpiry) return;
    let next = Infinity;
    const ended: Array<{ keys: readonly number[]; model: string }> = [];
    const visit = (map: Map<string, Cooling>, keys: readonly number[]) => {
      for (const [model, c] of map) {
        if (c.until > now) next = Math.min(next, c.until);
        else {
          this.#delete(map, model);
          ended.push({ keys, model });
        }
      }
    };
    for (const g of this.#groups.values()) if (g.cooling?.size) visit(g.cooling, g.members);
    this.#keys.forEach((k, i) => k.cooling?.size && visit(k.cooling, [i]));
    this.#nextExpiry = next;
    for (const e of ended) this.#tell({ type: 'ended', keys: e.keys, model: e.model, cause: 'expired', source: 'local' });
  }

  /**
   * Every disable and live cooldown, as the store keeps them: per key, `*` for a disable.
   * For writing everything back to a store that lost it.
   */
  *entries(now: number): Iterable<{ keys: readonly number[]; model: string; state: Disabled | Cooling }> {
    const groupsDone = new Set<GroupState>();
    for (const [index, k] of this.#keys.entries()) {
      if (k.retired) continue;
      if (k.disabled) yield { keys: [index], model: '*', state: k.disabled };
      for (const [model, c] of k.cooling ?? []) if (c.until > now) yield { keys: [index], model, state: c };
      const g = k.group;
      if (groupsDone.has(g)) continue;
      groupsDone.add(g);
      if (g.disabled) yield { keys: g.members, model: '*', state: g.disabled };
      for (const [model, c] of g.cooling ?? []) if (c.until > now) yield { keys: g.members, model, state: c };
    }
  }

  /**
   * Keys to re-check: every disabled key (but those an operator disabled, and removed
   * ones), and one key of each disabled project that is not disabled on its own.
   */
  recheckTargets(): number[] {
    const targets = new Set<number>();
    for (const [index, k] of this.#keys.entries()) if (k.disabled && !k.disabled.manual && !k.retired) targets.add(index);
    for (const g of this.#groups.values()) {
      if (!g.disabled) continue;
      const first = g.members.find((i) => !this.#keys[i]!.disabled);
      if (first !== undefined) targets.add(first);
    }
    return [...targets];
  }
}
