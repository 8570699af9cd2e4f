import { afterEach, describe, expect, it, vi } from 'vitest';
import { GOOGLE_BASE_URL, SdkGeminiClient, type AdapterChunk, type GeminiClient } from '../../src/gemini/adapter.ts';
import { AttemptTimeoutError, CancelledError } from '../../src/gemini/classify.ts';
import { classified, type StreamPiece } from '../../src/gemini/client.ts';

const REQ = { model: 'gemini-2.5-flash', contents: [{ role: 'user' as const, parts: [{ text: 'hi' }] }] };
const USAGE = { promptTokens: 1, outputTokens: 1, totalTokens: 2 };
const sdkError = (status: number, body: string) => Object.assign(new Error(body), { status });

/** A raw client whose calls do what the test says. */
function raw(over: Partial<GeminiClient>): GeminiClient {
  return {
    generate: async () => ({ text: 'ok', usage: USAGE }),
    async *stream() {
      yield { text: 'ok', usage: USAGE };
    },
    check: async () => undefined,
    native: async () => ({ candidates: [{ content: { parts: [{ text: 'ok' }], role: 'model' }, finishReason: 'STOP' }] }),
    async *nativeStream() {
      yield { candidates: [{ content: { parts: [{ text: 'ok' }], role: 'model' }, finishReason: 'STOP' }] };
    },
    ...over,
  };
}

async function pieces(it: AsyncIterable<StreamPiece>): Promise<StreamPiece[]> {
  const out: StreamPiece[] = [];
  for await (const p of it) out.push(p);
  return out;
}

describe('classified: the adapter returns failures as classified values', () => {
  const signal = new AbortController().signal;

  it('an SDK error becomes { ok: false, error } with its kind; nothing throws', async () => {
    const c = classified(raw({ generate: async () => Promise.reject(sdkError(429, '{"error":{"code":429,"message":"x"}}')) }));
    await expect(c.generate(REQ, signal)).resolves.toMatchObject({ ok: false, error: { kind: 'rate_limited', status: 429 } });
  });

  it('an abort is classified by its reason: our timer is a timeout, the caller a cancellation', async () => {
    for (const [reason, expected] of [
      [new AttemptTimeoutError(5), { kind: 'timeout', message: 'no answer within 5 ms' }],
      [new AttemptTimeoutError(5, 'deadline'), { kind: 'timeout', reason: 'DEADLINE', message: 'deadline reached (no answer within the 5 ms left)' }],
      [new CancelledError(), { kind: 'timeout', reason: 'CANCELLED' }],
    ] as const) {
      const ctl = new AbortController();
      ctl.abort(reason);
      // The SDK throws its own AbortError, which says nothing about why.
      const c = classified(raw({ generate: async () => Promise.reject(Object.assign(new Error('This operation was aborted'), { name: 'AbortError' })) }));
      await expect(c.generate(REQ, ctl.signal)).resolves.toMatchObject({ ok: false, error: expected });
    }
  });

  it('a refusal and an empty answer are failures; an answer with text is the value', async () => {
    const blocked = { kind: 'blocked' as const, status: 200, reason: 'SAFETY', message: 'withheld' };
    await expect(classified(raw({ generate: async () => ({ text: '', usage: USAGE, blocked }) })).generate(REQ, signal)).resolves.toEqual({ ok: false, error: blocked });
    await expect(classified(raw({ generate: async () => ({ text: '', usage: USAGE, finishReason: 'MAX_TOKENS' }) })).generate(REQ, signal)).resolves.toMatchObject({ ok: false, error: { kind: 'bad_request' } });
    await expect(classified(raw({})).generate(REQ, signal)).resolves.toEqual({ ok: true, value: { text: 'ok', usage: USAGE } });
  });

  it('a stream that breaks mid-way ends with one failure piece after the text it had', async () => {
    const c = classified(
      raw({
        async *stream(): AsyncIterable<AdapterChunk> {
          yield { text: 'par' };
          throw new Error('terminated');
        },
      }),
    );
    const got = await pieces(c.stream(REQ, signal));
    expect(got).toEqual([{ ok: true, chunk: { text: 'par' } }, { ok: false, error: expect.objectContaining({ kind: 'transient', message: 'the answer was cut off mid-way' }) }]);
  });

  it('a stream without text ends with the empty-answer failure', async () => {
    const c = classified(
      raw({
        async *stream(): AsyncIterable<AdapterChunk> {
          yield { text: '', finishReason: 'STOP' };
        },
      }),
    );
    const got = await pieces(c.stream(REQ, signal));
    expect(got.at(-1)).toEqual({ ok: false, error: expect.objectContaining({ kind: 'transient', message: 'empty answer' }) });
  });

  it('a failed check is a value too', async () => {
    const c = classified(raw({ check: async () => Promise.reject(sdkError(400, '{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"API key not valid","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID"}]}}')) }));
    await expect(c.check(signal)).resolves.toMatchObject({ ok: false, error: { kind: 'auth', reason: 'API_KEY_INVALID' } });
  });
});

describe('SdkGeminiClient: the environment does not redirect requests', () => {
  afterEach(() => vi.unstubAllEnvs());

  /** A fetch that records where the SDK sends a request and answers it. */
  function recordingFetch(urls: string[]): typeof globalThis.fetch {
    return async (input) => {
      urls.push(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
      const body = { candidates: [{ content: { role: 'model', parts: [{ text: 'hello' }] }, finishReason: 'STOP' }] };
      return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
    };
  }

  it("goes to Google's endpoint when no base URL is configured, whatever GOOGLE_GEMINI_BASE_URL and GOOGLE_GENAI_USE_VERTEXAI say", async () => {
    vi.stubEnv('GOOGLE_GEMINI_BASE_URL', 'http://127.0.0.1:9/elsewhere');
    vi.stubEnv('GOOGLE_GENAI_USE_VERTEXAI', 'true');
    const urls: string[] = [];
    const client = new SdkGeminiClient('test-key-1', { apiVersion: 'v1beta', fetch: recordingFetch(urls) });
    const answer = await client.generate(REQ, new AbortController().signal);
    expect(answer.text).toBe('hello');
    expect(urls).toHaveLength(1);
    expect(urls[0]!.startsWith(`${GOOGLE_BASE_URL}/v1beta/models/gemini-2.5-flash:generateContent`)).toBe(true);
  });

  it('goes to the configured base URL', async () => {
    vi.stubEnv('GOOGLE_GEMINI_BASE_URL', 'http://127.0.0.1:9/elsewhere');
    const urls: string[] = [];
    const client = new SdkGeminiClient('test-key-1', { apiVersion: 'v1beta', baseUrl: 'http://127.0.0.1:7/proxy', fetch: recordingFetch(urls) });
    await client.generate(REQ, new AbortController().signal);
    expect(urls[0]!.startsWith('http://127.0.0.1:7/proxy/v1beta/models/gemini-2.5-flash:generateContent')).toBe(true);
  });
});
