import { describe, expect, it } from 'vitest';
import { classifyBlocked, classifyError, classifyHttp, parseDurationMs } from '../../src/gemini/classify.ts';

const quotaBody = (quotaId: string, retryDelay?: string, order: 'retry-first' | 'quota-first' = 'quota-first') => {
  const quota = {
    '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
    violations: [{ quotaMetric: 'm', quotaId, quotaDimensions: { model: 'gemini-2.5-flash', location: 'global' }, quotaValue: '10' }],
  };
  const retry = retryDelay ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay }] : [];
  const details = order === 'quota-first' ? [quota, ...retry] : [...retry, quota];
  return JSON.stringify({ error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'quota', details } });
};

describe('classifyHttp: the policy table, row by row', () => {
  it.each([
    ['per-minute 429 with RetryInfo', 429, quotaBody('GenerateRequestsPerMinutePerProjectPerModel-FreeTier', '37s'), { kind: 'rate_limited', retryDelayMs: 37_000, quotaScope: 'minute', quotaValue: 10 }],
    ['per-minute 429, details in the other order, fractional delay', 429, quotaBody('GenerateRequestsPerMinutePerProjectPerModel-FreeTier', '45.8s', 'retry-first'), { kind: 'rate_limited', retryDelayMs: 45_800 }],
    ['per-day 429', 429, quotaBody('GenerateRequestsPerDayPerProjectPerModel-FreeTier', '3600s'), { kind: 'quota_exhausted', quotaScope: 'day' }],
    ['token-per-minute 429', 429, quotaBody('GenerateContentInputTokensPerModelPerMinute-FreeTier'), { kind: 'rate_limited', quotaUnit: 'tokens' }],
    ['bare 429', 429, JSON.stringify({ error: { code: 429, status: 'RESOURCE_EXHAUSTED', message: 'Resource exhausted' } }), { kind: 'rate_limited', message: 'rate limited (no details)' }],
    ['400 API_KEY_INVALID', 400, JSON.stringify({ error: { code: 400, status: 'INVALID_ARGUMENT', message: 'API key not valid', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }] } }), { kind: 'auth', reason: 'API_KEY_INVALID' }],
    ['401', 401, '{}', { kind: 'auth' }],
    ['403 suspended', 403, JSON.stringify({ error: { code: 403, status: 'PERMISSION_DENIED', message: 'suspended', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'CONSUMER_SUSPENDED' }] } }), { kind: 'auth', reason: 'CONSUMER_SUSPENDED' }],
    ['402', 402, '{}', { kind: 'billing' }],
    ['503 overloaded', 503, JSON.stringify({ error: { code: 503, status: 'UNAVAILABLE', message: 'The model is overloaded.' } }), { kind: 'overloaded' }],
    ['500', 500, '{}', { kind: 'transient' }],
    ['502 with an HTML page', 502, '<html>Bad Gateway</html>', { kind: 'transient' }],
    ['504', 504, '{}', { kind: 'transient' }],
    ['400 other', 400, JSON.stringify({ error: { code: 400, status: 'INVALID_ARGUMENT', message: 'The input token count exceeds the maximum' } }), { kind: 'bad_request', message: 'The input token count exceeds the maximum' }],
    ['404 model', 404, JSON.stringify({ error: { code: 404, status: 'NOT_FOUND', message: 'models/nope is not found' } }), { kind: 'bad_request' }],
  ])('%s', (_name, status, body, expected) => {
    expect(classifyHttp(status, body)).toMatchObject(expected);
  });

  it('a per-day violation outranks a per-minute one in the same answer', () => {
    const body = JSON.stringify({
      error: {
        code: 429,
        details: [{
          '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
          violations: [{ quotaId: 'GenerateRequestsPerDayPerProjectPerModel-FreeTier', quotaValue: '250' }, { quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier', quotaValue: '10' }],
        }],
      },
    });
    expect(classifyHttp(429, body)).toMatchObject({ kind: 'quota_exhausted', quotaValue: 250 });
  });
});

describe('classifyError', () => {
  it('reads the JSON after the prefix of a stream error', () => {
    const e = Object.assign(new Error(`got status: RESOURCE_EXHAUSTED. ${quotaBody('GenerateRequestsPerMinutePerProjectPerModel-FreeTier', '2s')}`), { status: 429 });
    expect(classifyError(e)).toMatchObject({ kind: 'rate_limited', retryDelayMs: 2000 });
  });
  it('a network failure is transient', () => {
    expect(classifyError(new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } }))).toMatchObject({ kind: 'transient', message: 'network error (ECONNRESET)' });
  });
  it('a malformed body is transient', () => {
    expect(classifyError(new SyntaxError('Unexpected token'))).toMatchObject({ kind: 'transient' });
  });
});

describe('classifyBlocked', () => {
  it('names the block reason', () => {
    expect(classifyBlocked({ promptFeedback: { blockReason: 'PROHIBITED_CONTENT' } })).toMatchObject({ kind: 'blocked', reason: 'PROHIBITED_CONTENT' });
    expect(classifyBlocked({ candidates: [{ finishReason: 'SAFETY' }] })).toMatchObject({ kind: 'blocked', reason: 'SAFETY' });
    expect(classifyBlocked({ candidates: [{ finishReason: 'STOP' }] })).toBeUndefined();
    expect(classifyBlocked({ candidates: [{ finishReason: 'MAX_TOKENS' }] })).toBeUndefined();
  });
});

describe('parseDurationMs', () => {
  it.each([['37s', 37_000], ['45.8s', 45_800], ['0.35s', 350], ['0s', 0], ['x', undefined], [undefined, undefined]])('%s', (v, ms) => {
    expect(parseDurationMs(v)).toBe(ms);
  });
});
