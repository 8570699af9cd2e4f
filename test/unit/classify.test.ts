import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifyBlocked, classifyError, classifyHttp, parseDurationMs, type Classified } from '../../src/gemini/classify.ts';
import { ERROR_KINDS } from '../../src/pool/types.ts';

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
  const failed = (cause: unknown) => new TypeError('fetch failed', { cause });
  const sysError = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields);
  it.each([
    ['refused', failed(sysError('connect ECONNREFUSED 127.0.0.1:9', { code: 'ECONNREFUSED', address: '127.0.0.1', port: 9 })), 'connection refused to 127.0.0.1:9'],
    ['refused over IPv6', failed(sysError('connect ECONNREFUSED ::1:9', { code: 'ECONNREFUSED', address: '::1', port: 9 })), 'connection refused to [::1]:9'],
    ['refused on every address tried', failed(Object.assign(new AggregateError([sysError('x', { code: 'ECONNREFUSED', address: '127.0.0.1', port: 8443 })]), {})), 'connection refused to 127.0.0.1:8443'],
    ['unknown host', failed(sysError('getaddrinfo ENOTFOUND example.invalid', { code: 'ENOTFOUND', hostname: 'example.invalid' })), 'cannot resolve host example.invalid'],
    ['DNS down', failed(sysError('getaddrinfo EAI_AGAIN gemini.example', { code: 'EAI_AGAIN', hostname: 'gemini.example' })), 'cannot resolve host gemini.example (temporary DNS failure)'],
    ['reset', failed(sysError('read ECONNRESET', { code: 'ECONNRESET' })), 'connection reset'],
    ['closed by the server', failed(sysError('other side closed', { code: 'UND_ERR_SOCKET', socket: { remoteAddress: '127.0.0.1', remotePort: 9 } })), 'connection closed by 127.0.0.1:9 before an answer'],
    ['connect timeout', failed(sysError('Connect Timeout Error (attempted address: 127.0.0.1:9, timeout: 10000ms)', { code: 'UND_ERR_CONNECT_TIMEOUT' })), 'connection timed out to 127.0.0.1:9'],
    ['no route', failed(sysError('connect EHOSTUNREACH 10.0.0.9:443', { code: 'EHOSTUNREACH', address: '10.0.0.9', port: 443 })), 'no route to 10.0.0.9:443'],
    ['TLS', failed(sysError('self-signed certificate', { code: 'DEPTH_ZERO_SELF_SIGNED_CERT', host: 'proxy.local' })), 'TLS error with proxy.local (DEPTH_ZERO_SELF_SIGNED_CERT)'],
    ['an answer cut mid-way', new TypeError('terminated', { cause: sysError('other side closed', { code: 'UND_ERR_SOCKET' }) }), 'the answer was cut off mid-way'],
    ['no cause at all', new TypeError('fetch failed'), 'network error'],
    ['not a network failure: the SDK choking on an answer', new TypeError('Object.defineProperty called on non-object'), 'unexpected failure (TypeError)'],
  ])('a network failure is transient and says what happened: %s', (_name, err, message) => {
    expect(classifyError(err)).toMatchObject({ kind: 'transient', status: 0, message });
  });

  it('a network message never carries a URL or its query string', () => {
    const url = 'https://proxy.example/v1beta/models/m:generateContent?key=AIzaSySECRETSECRETSECRET';
    const err = new TypeError(`fetch failed for ${url}`, { cause: Object.assign(new Error(`connect ECONNREFUSED ${url}`), { code: 'ECONNREFUSED', address: '10.0.0.1', port: 443, url }) });
    const c = classifyError(err);
    expect(c.message).toBe('connection refused to 10.0.0.1:443');
    expect(c.message).not.toContain('SECRET');
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

/** What every classification must be, whatever it was given. */
function expectValid(c: Classified): void {
  expect(ERROR_KINDS).toContain(c.kind);
  expect(typeof c.message).toBe('string');
  expect(c.message.length).toBeGreaterThan(0);
  expect(Number.isFinite(c.status)).toBe(true);
  if (c.retryDelayMs !== undefined) expect(Number.isFinite(c.retryDelayMs) && c.retryDelayMs >= 0).toBe(true);
  if (c.quotaValue !== undefined) expect(Number.isFinite(c.quotaValue) && c.quotaValue > 0).toBe(true);
}

const sdkError = (status: number, body: string) => Object.assign(new Error(body), { name: 'ApiError', status });

describe('classification is total', () => {
  it.each([
    ['details is an object', '{"error":{"code":429,"details":{}}}'],
    ['details is a number', '{"error":{"code":429,"details":5}}'],
    ['details holds null', '{"error":{"code":429,"details":[null]}}'],
    ['violations hold null', '{"error":{"code":429,"details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[null]}]}}'],
    ['violations is an object', '{"error":{"code":429,"details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":{"quotaId":"PerDay"}}]}}'],
    ['error is null', '{"error":null}'],
    ['message and status of the wrong type', '{"error":{"code":403,"status":{"a":1},"message":[1,2],"details":[{"@type":5,"reason":{}}]}}'],
  ])('a 429 (and every other status) whose %s gives a kind', (_name, body) => {
    for (const status of [429, 400, 401, 403, 500, 503]) expectValid(classifyError(sdkError(status, body)));
    expect(classifyError(sdkError(429, body)).kind).toBe('rate_limited');
  });

  it('a retry delay too large for a number is ignored, not Infinity', () => {
    expect(parseDurationMs(`${'9'.repeat(400)}s`)).toBeUndefined();
  });

  it('property: any JSON as the error body, any status 100-599', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), fc.jsonValue(), fc.boolean(), (status, value, wrap) => {
        const body = JSON.stringify(wrap ? { error: value } : value) ?? '';
        expectValid(classifyHttp(status, body));
        expectValid(classifyError(sdkError(status, body)));
      }),
      { numRuns: 2_000 },
    );
  });

  it('property: Google-shaped bodies with arbitrary parts, any status 100-599', () => {
    const types = fc.constantFrom('type.googleapis.com/google.rpc.QuotaFailure', 'type.googleapis.com/google.rpc.RetryInfo', 'type.googleapis.com/google.rpc.ErrorInfo', 'x');
    const violation = fc.oneof(fc.jsonValue(), fc.record({ quotaId: fc.oneof(fc.constantFrom('GenerateRequestsPerDayPerProjectPerModel', 'GenerateContentInputTokensPerModelPerMinute'), fc.jsonValue()), quotaValue: fc.jsonValue() }));
    const detail = fc.oneof(
      fc.jsonValue(),
      fc.record({ '@type': types, violations: fc.oneof(fc.array(violation), fc.jsonValue()), retryDelay: fc.oneof(fc.string(), fc.jsonValue(), fc.constantFrom('37s', '1e9s', '-1s', '999999999s')), reason: fc.jsonValue() }),
    );
    const error = fc.record({ code: fc.jsonValue(), status: fc.jsonValue(), message: fc.jsonValue(), details: fc.oneof(fc.array(detail), fc.jsonValue()) }, { requiredKeys: [] });
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), error, fc.string(), (status, err, prefix) => {
        const body = `${prefix}${JSON.stringify({ error: err })}`;
        expectValid(classifyHttp(status, body));
        expectValid(classifyError(sdkError(status, body)));
      }),
      { numRuns: 2_000 },
    );
  });

  it('property: arbitrary bytes as the body, any status 100-599', () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), fc.uint8Array({ maxLength: 300 }), (status, bytes) => {
        const body = new TextDecoder().decode(bytes);
        expectValid(classifyHttp(status, body));
        expectValid(classifyError(sdkError(status, body)));
      }),
      { numRuns: 1_000 },
    );
  });

  it('property: anything thrown, even values whose properties throw when read', () => {
    const boom = (): never => {
      throw new Error('trap');
    };
    // Built inside the property: fast-check itself would trip over these while inspecting them.
    const hostile: Array<() => unknown> = [
      () => new Proxy({}, { get: boom, has: boom, getPrototypeOf: boom, ownKeys: boom }),
      () => new Proxy(new Error('x'), { get: boom }),
      () => Object.defineProperties(new Error('x'), { status: { get: boom }, message: { get: boom }, cause: { get: boom } }),
      () => Object.defineProperty(new TypeError('fetch failed'), 'cause', { get: boom }),
      () => new TypeError('fetch failed', { cause: new Proxy({}, { get: boom }) }),
      () => Object.defineProperty({ status: 429 }, 'message', { get: boom }),
      () => Object.assign(Object.create(null), { status: 503, message: null }),
      () => Symbol('thrown'),
    ];
    const thrown = fc.oneof(
      fc.anything().map((v) => () => v),
      fc.record({ status: fc.anything(), message: fc.anything(), cause: fc.anything(), name: fc.anything() }, { requiredKeys: [] }).map((v) => () => v),
      fc.record({ status: fc.integer({ min: -10, max: 1_000 }), message: fc.string() }).map((v) => () => v),
      fc.anything().map((cause) => () => new TypeError('fetch failed', { cause })),
      fc.integer({ min: 0, max: hostile.length - 1 }).map((i) => hostile[i]!),
    );
    fc.assert(
      fc.property(thrown, (make) => {
        expectValid(classifyError(make()));
      }),
      { numRuns: 2_000 },
    );
  });

  it('blocked answers of the wrong shape are not blocked and do not throw', () => {
    expect(classifyBlocked({ promptFeedback: { blockReason: 5 as never }, candidates: 'x' as never })).toBeUndefined();
    expect(classifyBlocked({ candidates: [null as never] })).toBeUndefined();
  });
});
