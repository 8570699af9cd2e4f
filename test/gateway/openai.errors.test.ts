import type { ChatCompletion } from 'openai/resources/chat/completions';
import type { Model } from 'openai/resources/models';
import { describe, expect, it } from 'vitest';
import type { NativeFailure } from '../../src/pool/nativeTypes.ts';
import type { ErrorKind } from '../../src/pool/types.ts';
import { blockedCompletion, openaiError, poolFailureToOpenAI } from '../../src/gateway/openai/errors.ts';
import { retryAfterSeconds } from '../../src/gateway/failures.ts';
import { openaiModel, openaiModelList } from '../../src/gateway/openai/models.ts';

const failure = (kind: ErrorKind, extra: Partial<NativeFailure['error']> = {}, rest: Partial<NativeFailure> = {}): NativeFailure => ({
  ok: false,
  error: { kind, message: `pool says ${kind}`, ...extra },
  attempts: 2,
  model: 'gemini-2.5-flash',
  ...rest,
});

describe('openaiError', () => {
  it('has OpenAI shape, with the type from the status by default', () => {
    expect(openaiError(400, 'bad', { param: 'n' })).toEqual({ error: { message: 'bad', type: 'invalid_request_error', param: 'n', code: null } });
    expect(openaiError(503, 'down')).toEqual({ error: { message: 'down', type: 'server_error', param: null, code: null } });
    expect(openaiError(401, 'no', { type: 'authentication_error', code: 'invalid_api_key' }).error).toMatchObject({ type: 'authentication_error', code: 'invalid_api_key' });
  });
});

describe('poolFailureToOpenAI', () => {
  it.each<[string, NativeFailure, number, Record<string, unknown>, Record<string, string>]>([
    ['rate_limited with a wait', failure('rate_limited', { retryAfterMs: 37_200 }), 429, { type: 'requests', code: 'rate_limit_exceeded' }, { 'retry-after': '38', 'retry-after-ms': '37200' }],
    ['rate_limited, wait unknown', failure('rate_limited'), 429, { type: 'requests', code: 'rate_limit_exceeded' }, { 'retry-after': '1', 'retry-after-ms': '1000' }],
    ['rate_limited, a short wait', failure('rate_limited', { retryAfterMs: 20 }), 429, { code: 'rate_limit_exceeded' }, { 'retry-after': '1', 'retry-after-ms': '1000' }],
    ['quota_exhausted', failure('quota_exhausted', { retryAfterMs: 3_600_000 }), 429, { type: 'insufficient_quota', code: 'insufficient_quota' }, { 'retry-after': '3600', 'retry-after-ms': '3600000' }],
    ['overloaded', failure('overloaded'), 503, { type: 'server_error', code: 'overloaded' }, {}],
    ['transient', failure('transient'), 502, { type: 'server_error', code: 'upstream_error' }, {}],
    ['timeout', failure('timeout'), 504, { type: 'server_error', code: 'timeout' }, {}],
    ['auth: never 401, the client token was fine', failure('auth'), 503, { type: 'server_error', code: 'no_working_key' }, {}],
    ['billing', failure('billing'), 503, { code: 'no_working_key' }, {}],
    ['bad_request', failure('bad_request', {}, { status: 400 }), 400, { type: 'invalid_request_error', code: null, message: 'pool says bad_request' }, {}],
    ['bad_request for an unknown model', failure('bad_request', {}, { status: 404 }), 404, { code: 'model_not_found' }, {}],
    ['blocked (routes without a completion)', failure('blocked', { reason: 'SAFETY' }), 400, { code: 'content_filter' }, {}],
  ])('%s', (_name, f, status, error, headers) => {
    const answer = poolFailureToOpenAI(f);
    expect(answer.status).toBe(status);
    expect(answer.body.error).toMatchObject(error);
    expect(answer.headers).toEqual(headers);
  });

  it('adds nothing to the pool message but plain words', () => {
    expect(poolFailureToOpenAI(failure('auth')).body.error.message).toBe('no working key: pool says auth');
    expect(poolFailureToOpenAI(failure('overloaded')).body.error.message).toBe('pool says overloaded');
  });

  it('Retry-After is the wait rounded up, at least 1 s', () => {
    expect([retryAfterSeconds(undefined), retryAfterSeconds(0), retryAfterSeconds(1), retryAfterSeconds(1000), retryAfterSeconds(1001), retryAfterSeconds(Number.NaN)]).toEqual([1, 1, 1, 1, 2, 1]);
  });
});

describe('blockedCompletion', () => {
  const meta = { id: 'chatcmpl-b', model: 'gemini-2.5-flash', created: 5 };

  it("from Gemini's answer: empty content, content_filter, its usage kept", () => {
    const body = {
      candidates: [{ content: { role: 'model', parts: [{ text: 'partial answer' }] }, finishReason: 'RECITATION', index: 0 }],
      usageMetadata: { promptTokenCount: 4, candidatesTokenCount: 2, totalTokenCount: 6 },
    };
    const completion: ChatCompletion = blockedCompletion(failure('blocked', { reason: 'RECITATION' }, { body }), meta);
    expect(completion.choices).toEqual([{ index: 0, message: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: 'content_filter' }]);
    expect(completion.usage).toMatchObject({ prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 });
  });

  it('from the failure alone', () => {
    const completion = blockedCompletion(failure('blocked', { reason: 'SAFETY' }), meta);
    expect(completion).toMatchObject({ id: 'chatcmpl-b', object: 'chat.completion', choices: [{ message: { content: '' }, finish_reason: 'content_filter' }] });
  });
});

describe('models', () => {
  it('the list in OpenAI shape, models/ stripped, each once', () => {
    const list = openaiModelList(['gemini-2.5-flash', 'models/gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-embedding-001'], 1_700_000_000);
    expect(list).toEqual({
      object: 'list',
      data: [
        { id: 'gemini-2.5-flash', object: 'model', created: 1_700_000_000, owned_by: 'google' },
        { id: 'gemini-2.5-pro', object: 'model', created: 1_700_000_000, owned_by: 'google' },
        { id: 'gemini-embedding-001', object: 'model', created: 1_700_000_000, owned_by: 'google' },
      ] satisfies Model[],
    });
    expect(openaiModel('models/gemini-2.5-pro')).toEqual({ id: 'gemini-2.5-pro', object: 'model', created: 0, owned_by: 'google' });
  });
});
