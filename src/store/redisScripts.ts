/**
 * The Lua scripts of the Redis store: each runs atomically on the server, so a batch of
 * counters or a key's states are never seen half written. Key layout: see redis.ts.
 */
import type { Redis } from 'ioredis';

/**
 * Adds a batch in one atomic script. KEYS: per delta its `ctr:` and `day:` keys.
 * ARGV[1] the day TTL; then per delta model, requests, tokens, usage, errors, latencyMs.
 */
const ADD_COUNTERS_LUA = `
local ttl = tonumber(ARGV[1])
local n = #KEYS / 2
for i = 0, n - 1 do
  local ck, dk = KEYS[2 * i + 1], KEYS[2 * i + 2]
  local a = 2 + 6 * i
  local m = ARGV[a]
  redis.call('HINCRBY', ck, 'usage:' .. m, ARGV[a + 3])
  redis.call('HINCRBY', ck, 'errors:' .. m, ARGV[a + 4])
  redis.call('HINCRBYFLOAT', ck, 'latencyMs:' .. m, ARGV[a + 5])
  redis.call('HINCRBY', dk, 'requests:' .. m, ARGV[a + 1])
  redis.call('HINCRBY', dk, 'tokens:' .. m, ARGV[a + 2])
  redis.call('EXPIRE', dk, ttl)
end
return n
`;

/**
 * Raises counters to at least the values given, in one atomic script (never lowers one).
 * KEYS: per row its `ctr:` and `day:` keys. ARGV[1] the day TTL; then per row model,
 * usage, errors, latencyMs, requestsToday, tokensToday.
 */
const RAISE_COUNTERS_LUA = `
local ttl = tonumber(ARGV[1])
local n = #KEYS / 2
local function raise(key, field, v)
  local cur = tonumber(redis.call('HGET', key, field) or '0')
  if tonumber(v) > cur then
    redis.call('HSET', key, field, v)
    return 1
  end
  return 0
end
for i = 0, n - 1 do
  local ck, dk = KEYS[2 * i + 1], KEYS[2 * i + 2]
  local a = 2 + 6 * i
  local m = ARGV[a]
  raise(ck, 'usage:' .. m, ARGV[a + 1])
  raise(ck, 'errors:' .. m, ARGV[a + 2])
  raise(ck, 'latencyMs:' .. m, ARGV[a + 3])
  local wrote = raise(dk, 'requests:' .. m, ARGV[a + 4]) + raise(dk, 'tokens:' .. m, ARGV[a + 5])
  if wrote > 0 then redis.call('EXPIRE', dk, ttl) end
end
return n
`;

/**
 * The live states of one key. KEYS[1] the `states:` index; ARGV[1] the `state:{hash}:`
 * prefix. Drops index entries whose state expired, atomically with the read, so a state
 * set meanwhile by another process is never unindexed.
 */
const LOAD_STATES_LUA = `
local models = redis.call('SMEMBERS', KEYS[1])
local out = {}
for _, m in ipairs(models) do
  local v = redis.call('GET', ARGV[1] .. m)
  if v then
    out[#out + 1] = m
    out[#out + 1] = v
  else
    redis.call('SREM', KEYS[1], m)
  end
end
return out
`;

/** Sets every field of a hash to 0 (KEYS[1]). */
const ZERO_HASH_LUA = `
local f = redis.call('HKEYS', KEYS[1])
for _, k in ipairs(f) do redis.call('HSET', KEYS[1], k, 0) end
return #f
`;

/** A connection with the scripts above as commands. */
export interface ScriptedRedis extends Redis {
  gpoolAddCounters(...args: Array<string | number>): Promise<number>;
  gpoolRaiseCounters(...args: Array<string | number>): Promise<number>;
  gpoolLoadStates(indexKey: string, statePrefix: string): Promise<string[]>;
  gpoolZeroHash(key: string): Promise<number>;
}

/** Registers the scripts as commands of `redis` (ioredis sends EVALSHA, falling back to EVAL). */
export function defineScripts(redis: Redis): ScriptedRedis {
  redis.defineCommand('gpoolAddCounters', { lua: ADD_COUNTERS_LUA });
  redis.defineCommand('gpoolRaiseCounters', { lua: RAISE_COUNTERS_LUA });
  redis.defineCommand('gpoolLoadStates', { numberOfKeys: 1, lua: LOAD_STATES_LUA });
  redis.defineCommand('gpoolZeroHash', { numberOfKeys: 1, lua: ZERO_HASH_LUA });
  return redis as ScriptedRedis;
}
