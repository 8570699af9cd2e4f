/**
 * What the pool does with a failure, wherever it was learned (an attempt of a request, or a
 * key check): the policy decides (`policy.ts`, pure), and this carries the decision out on
 * the parts that own the state: streaks and counts (`stats.ts`), key states
 * (`keyStates.ts`), learned quota limits (`limiter.ts`), the model-wide wait of an overload
 * (`localOverload.ts`), the failing instance. And what an answer ends.
 */
import type { Logger } from 'pino';
import type { Classified } from '../gemini/classify.ts';
import type { Instance, Instances } from './instances.ts';
import type { KeyRing, PoolKey } from './keys.ts';
import type { KeyStates } from './keyStates.ts';
import type { QuotaLimiter } from './limiter.ts';
import { judgeOverload, type ModelOverloads } from './localOverload.ts';
import type { ResolvedOptions } from './options.ts';
import { decide, type Circumstances, type Decision } from './policy.ts';
import type { PoolCounters } from './stats.ts';
import type { Clock } from './time.ts';

/** The parts a failure changes. */
export interface FailureParts {
  ring: KeyRing;
  models: readonly string[];
  options: ResolvedOptions;
  log: Logger;
  states: KeyStates;
  counters: PoolCounters;
  limiter: QuotaLimiter;
  overloads: ModelOverloads;
  clock: Clock;
}

/** The policy's decision for one key and model, carried out on its streaks and its state. */
function decideAndApply(parts: FailureParts, key: PoolKey, model: string, err: Classified, now: number, circumstances?: Circumstances): Decision {
  const c = parts.counters.of(key.index, model);
  const streaks = { bareRateLimits: parts.states.bareRateLimits(key.index, model), serverErrors: c.consecutiveFailures, localBusy: c.localBusy, softCooldowns: c.softCooldowns };
  const d = decide(err, streaks, parts.options, now, circumstances);
  c.consecutiveFailures = d.streaks.serverErrors;
  c.localBusy = d.streaks.localBusy;
  c.softCooldowns = d.streaks.softCooldowns;
  parts.states.apply(d, key.index, model, err, now);
  return d;
}

/** An attempt on `key` answered `model`: the streaks it ends (its own counts are `stats.ts`'s). */
export function attemptSucceeded(parts: FailureParts, key: PoolKey, model: string): void {
  parts.states.setBareRateLimits(key.index, model, 0);
  parts.overloads.answered(model);
}

/**
 * A failed attempt on `inst`: the key's state, its counts, a learned limit, maybe a rebuilt
 * instance. A 503 or a timeout is judged against the other keys of the model first: the key's
 * own, or every key's (then soft cooldowns of the model end, and after a 503 the model waits).
 */
export function attemptFailed(parts: FailureParts & { instances: Instances }, inst: Instance, key: PoolKey, err: Classified, now: number): void {
  const model = inst.model;
  // An attempt the request's deadline cut short says nothing about the key's speed.
  const busy = err.kind === 'overloaded' || (err.kind === 'timeout' && err.reason !== 'DEADLINE');
  const circumstances: Circumstances | undefined = busy
    ? { overload: judgeOverload(parts.counters, parts.ring.keys.length, key.index, model, now, parts.options.localOverloadWindowMs), softCooling: parts.states.softCooling(key.index, model, now) }
    : undefined;
  const decision = decideAndApply(parts, key, model, err, now, circumstances);
  const c = parts.counters.of(key.index, model);
  c.latest = busy ? 'busy' : 'failed';
  c.latestAt = now;
  if (decision.everyKey) {
    parts.states.releaseSoft(model, now);
    if (decision.everyKey.wait) {
      const wait = parts.overloads.overloaded(model, now, parts.clock.random);
      if (wait.started) parts.log.warn({ model, waitMs: wait.until - now }, 'every key of the model is overloaded: requests for it wait');
    }
  }
  if (decision.penalize) {
    parts.counters.penalize(parts.counters.of(key.index, model), key.index);
    inst.errors++;
    inst.consecutiveFailures++;
  }
  const learn = decision.learn;
  if (learn && parts.limiter.learn(key.group, model, learn.scope, learn.unit, learn.limit, now)) {
    const keys = parts.states.members(key.index).map((i) => parts.ring.keys[i]!.id);
    parts.log.info({ group: key.groupLabel, keys, model, scope: learn.scope, unit: learn.unit, limit: learn.limit }, 'learned a quota limit from Gemini');
  }
  if (inst.consecutiveFailures >= parts.options.instanceFailuresBeforeRebuild) parts.instances.rebuild(inst, now);
}

/**
 * What a key check learned: a key that answered is enabled again (and its project); an auth
 * or billing refusal disables it; a 429 cools its project for every model, since listing
 * models is no call to one model. Anything else says nothing about the key.
 */
export function checkAnswered(parts: FailureParts, key: PoolKey, defaultModel: string, err: Classified | undefined, now: number): void {
  if (!err) parts.states.enable(key.index, 'local');
  else if (err.kind === 'auth' || err.kind === 'billing') decideAndApply(parts, key, defaultModel, err, now);
  else if (err.kind === 'rate_limited' || err.kind === 'quota_exhausted') for (const model of parts.models) decideAndApply(parts, key, model, err, now);
}
