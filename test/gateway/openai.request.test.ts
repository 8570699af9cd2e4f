import type { ChatCompletionCreateParams } from 'openai/resources/chat/completions';
import { describe, expect, it } from 'vitest';
import { chatToGemini, type ChatTranslateOptions, type ChatTranslation } from '../../src/gateway/openai/request.ts';
import { MemorySignatureStore, SKIP_SIGNATURE } from '../../src/gateway/openai/signatures.ts';

const MODELS = ['gemini-2.5-flash', 'gemini-3-pro-preview'];
const opts: ChatTranslateOptions = { models: MODELS };
const hi = [{ role: 'user', content: 'hi' }] satisfies ChatCompletionCreateParams['messages'];

/** A request with `extra` merged in: fields typed by the openai package, so drift fails tsc. */
const req = (extra: Partial<ChatCompletionCreateParams> = {}): ChatCompletionCreateParams => ({ model: 'gemini-2.5-flash', messages: hi, ...extra });

async function ok(json: unknown, options: ChatTranslateOptions = opts) {
  const t = await chatToGemini(json, options);
  if (!t.ok) throw new Error(`refused: ${t.message}`);
  return t;
}
async function refused(json: unknown, options: ChatTranslateOptions = opts) {
  const t: ChatTranslation = await chatToGemini(json, options);
  if (t.ok) throw new Error('accepted');
  return t;
}

describe('chatToGemini: fields that change the Gemini request', () => {
  it.each<[string, Partial<ChatCompletionCreateParams>, Record<string, unknown>]>([
    ['temperature', { temperature: 0.3 }, { temperature: 0.3 }],
    ['top_p', { top_p: 0.9 }, { topP: 0.9 }],
    ['max_tokens', { max_tokens: 100 }, { maxOutputTokens: 100 }],
    ['max_completion_tokens', { max_completion_tokens: 200 }, { maxOutputTokens: 200 }],
    ['stop as a string', { stop: 'END' }, { stopSequences: ['END'] }],
    ['stop as an array', { stop: ['a', 'b'] }, { stopSequences: ['a', 'b'] }],
    ['seed', { seed: 42 }, { seed: 42 }],
    ['presence_penalty', { presence_penalty: 0.5 }, { presencePenalty: 0.5 }],
    ['frequency_penalty', { frequency_penalty: -0.5 }, { frequencyPenalty: -0.5 }],
    ['response_format json_object', { response_format: { type: 'json_object' } }, { responseMimeType: 'application/json' }],
    [
      'response_format json_schema',
      { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'string' } } }, strict: true } } },
      { responseMimeType: 'application/json', responseJsonSchema: { type: 'object', properties: { a: { type: 'string' } } } },
    ],
    ['reasoning_effort minimal', { reasoning_effort: 'minimal' }, { thinkingConfig: { thinkingBudget: 512 } }],
    ['reasoning_effort low', { reasoning_effort: 'low' }, { thinkingConfig: { thinkingBudget: 1024 } }],
    ['reasoning_effort medium', { reasoning_effort: 'medium' }, { thinkingConfig: { thinkingBudget: 8192 } }],
    ['reasoning_effort high', { reasoning_effort: 'high' }, { thinkingConfig: { thinkingBudget: 24_576 } }],
    ['reasoning_effort none', { reasoning_effort: 'none' }, { thinkingConfig: { thinkingBudget: 0 } }],
  ])('%s', async (_name, extra, generationConfig) => {
    const t = await ok(req(extra));
    expect(t.body.generationConfig).toEqual(generationConfig);
  });

  it('a plain request has contents and nothing else', async () => {
    const t = await ok(req());
    expect(t).toEqual({ ok: true, model: 'gemini-2.5-flash', stream: false, includeUsage: false, body: { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] } });
  });

  it('stream and stream_options.include_usage', async () => {
    expect(await ok(req({ stream: true }))).toMatchObject({ stream: true, includeUsage: false });
    expect(await ok(req({ stream: true, stream_options: { include_usage: true } }))).toMatchObject({ stream: true, includeUsage: true });
    // include_usage means nothing without a stream.
    expect(await ok({ ...req(), stream_options: { include_usage: true } })).toMatchObject({ stream: false, includeUsage: false });
  });

  it('response_format text asks nothing', async () => {
    expect((await ok(req({ response_format: { type: 'text' } }))).body.generationConfig).toBeUndefined();
  });

  it('a leading models/ is stripped from the model', async () => {
    expect((await ok(req({ model: 'models/gemini-3-pro-preview' }))).model).toBe('gemini-3-pro-preview');
  });

  it('harmless fields are accepted and not forwarded', async () => {
    const t = await ok(req({ user: 'u1', metadata: { a: 'b' }, store: false, n: 1, logprobs: false, parallel_tool_calls: true, service_tier: 'auto' }));
    expect(t.body).toEqual({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] });
  });

  it('null values ask for nothing, whatever the field', async () => {
    expect((await ok({ ...req(), n: null, audio: null, logit_bias: null, something_new: null, temperature: null })).body.generationConfig).toBeUndefined();
  });
});

describe('chatToGemini: tools and tool_choice', () => {
  const tools: ChatCompletionCreateParams['tools'] = [
    { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } } },
    { type: 'function', function: { name: 'get_time' } },
  ];

  it('tools become function declarations with JSON Schema parameters', async () => {
    const t = await ok(req({ tools }));
    expect(t.body.tools).toEqual([
      {
        functionDeclarations: [
          { name: 'get_weather', description: 'Weather', parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } },
          { name: 'get_time' },
        ],
      },
    ]);
    expect(t.body.toolConfig).toBeUndefined();
  });

  it.each<[string, ChatCompletionCreateParams['tool_choice'], unknown]>([
    ['none', 'none', { mode: 'NONE' }],
    ['auto', 'auto', { mode: 'AUTO' }],
    ['required', 'required', { mode: 'ANY' }],
    ['a named function', { type: 'function', function: { name: 'get_time' } }, { mode: 'ANY', allowedFunctionNames: ['get_time'] }],
    [
      'allowed_tools required',
      { type: 'allowed_tools', allowed_tools: { mode: 'required', tools: [{ type: 'function', function: { name: 'get_weather' } }] } },
      { mode: 'ANY', allowedFunctionNames: ['get_weather'] },
    ],
  ])('tool_choice %s', async (_name, choice, functionCallingConfig) => {
    expect((await ok(req({ tools, tool_choice: choice }))).body.toolConfig).toEqual({ functionCallingConfig });
  });

  it('allowed_tools auto offers only the allowed declarations', async () => {
    const t = await ok(req({ tools, tool_choice: { type: 'allowed_tools', allowed_tools: { mode: 'auto', tools: [{ type: 'function', function: { name: 'get_time' } }] } } }));
    expect(t.body.tools).toEqual([{ functionDeclarations: [{ name: 'get_time' }] }]);
    expect(t.body.toolConfig).toEqual({ functionCallingConfig: { mode: 'AUTO' } });
  });

  it('tool_choice auto or none without tools asks nothing', async () => {
    expect((await ok(req({ tool_choice: 'auto' }))).body.toolConfig).toBeUndefined();
  });
});

describe('chatToGemini: refusals name their field', () => {
  it.each<[string, unknown, string, RegExp?]>([
    ['n > 1', { ...req(), n: 3 }, 'n'],
    ['logprobs', { ...req(), logprobs: true }, 'logprobs'],
    ['top_logprobs', { ...req(), top_logprobs: 2 }, 'top_logprobs'],
    ['audio', { ...req(), audio: { voice: 'alloy', format: 'mp3' } }, 'audio'],
    ['audio modality', { ...req(), modalities: ['text', 'audio'] }, 'modalities'],
    ['logit_bias', { ...req(), logit_bias: { '50256': -100 } }, 'logit_bias'],
    ['store: true', { ...req(), store: true }, 'store'],
    ['functions (deprecated)', { ...req(), functions: [{ name: 'f' }] }, 'functions'],
    ['an unknown field', { ...req(), best_of: 2 }, 'best_of', /unknown field/],
    ['both max_tokens and max_completion_tokens', { ...req(), max_tokens: 10, max_completion_tokens: 10 }, 'max_tokens', /not both/],
    ['temperature out of range', { ...req(), temperature: 3 }, 'temperature'],
    ['a string temperature', { ...req(), temperature: 'hot' }, 'temperature'],
    ['max_tokens zero', { ...req(), max_tokens: 0 }, 'max_tokens'],
    ['reasoning_effort xhigh', { ...req(), reasoning_effort: 'xhigh' }, 'reasoning_effort'],
    ['stop with too many sequences', { ...req(), stop: ['1', '2', '3', '4', '5', '6'] }, 'stop'],
    ['response_format json_schema without json_schema', { ...req(), response_format: { type: 'json_schema' } }, 'response_format.json_schema'],
    ['an unknown response_format', { ...req(), response_format: { type: 'yaml' } }, 'response_format.type'],
    ['a custom tool', { ...req(), tools: [{ type: 'custom', custom: { name: 'x' } }] }, 'tools[0].type'],
    ['a tool without a name', { ...req(), tools: [{ type: 'function', function: { description: 'd' } }] }, 'tools[0].function.name'],
    ['tool_choice naming an unknown tool', { ...req(), tools: [{ type: 'function', function: { name: 'a' } }], tool_choice: { type: 'function', function: { name: 'b' } } }, 'tool_choice.function.name'],
    ['tool_choice required without tools', { ...req(), tool_choice: 'required' }, 'tool_choice'],
    ['parallel_tool_calls false with tools', { ...req(), tools: [{ type: 'function', function: { name: 'a' } }], parallel_tool_calls: false }, 'parallel_tool_calls'],
    ['no messages', { model: 'gemini-2.5-flash', messages: [] }, 'messages'],
    ['messages not an array', { model: 'gemini-2.5-flash', messages: 'hi' }, 'messages'],
    ['only a system message', { model: 'gemini-2.5-flash', messages: [{ role: 'system', content: 'be brief' }] }, 'messages'],
    ['an unknown role', { model: 'gemini-2.5-flash', messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role'],
    ['a function message', { model: 'gemini-2.5-flash', messages: [{ role: 'function', name: 'f', content: 'x' }] }, 'messages[0].role'],
    ['input_audio', { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] }, 'messages[0].content[1]'],
    ['a file part', { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: [{ type: 'file', file: { file_id: 'f' } }] }] }, 'messages[0].content[0]'],
    ['an image in a system message', { model: 'gemini-2.5-flash', messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] }, ...hi] }, 'messages[0].content[0]'],
    ['a text part without text', { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: [{ type: 'text' }] }] }, 'messages[0].content[0].text'],
    ['an http image URL (fetching off)', { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] }, 'messages[0].content[0].image_url.url', /data URL/],
    ['a data URL that is not an image', { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:text/plain;base64,aGk=' } }] }] }, 'messages[0].content[0].image_url.url'],
    ['a data URL that is not base64', { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png,rawbytes' } }] }] }, 'messages[0].content[0].image_url.url'],
    ['a data URL with broken base64', { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,@@@' } }] }] }, 'messages[0].content[0].image_url.url'],
    ['a file: image URL', { model: 'gemini-2.5-flash', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'file:///etc/passwd' } }] }] }, 'messages[0].content[0].image_url.url'],
    ['a tool message answering no known call', { model: 'gemini-2.5-flash', messages: [...hi, { role: 'tool', tool_call_id: 'call_x', content: '1' }] }, 'messages[1].tool_call_id'],
    ['tool call arguments that are not JSON', { model: 'gemini-2.5-flash', messages: [...hi, { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{oops' } }] }] }, 'messages[1].tool_calls[0].function.arguments'],
    ['tool call arguments that are not an object', { model: 'gemini-2.5-flash', messages: [...hi, { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '[1]' } }] }] }, 'messages[1].tool_calls[0].function.arguments'],
    ['a custom tool call in history', { model: 'gemini-2.5-flash', messages: [...hi, { role: 'assistant', tool_calls: [{ id: 'c1', type: 'custom', custom: { name: 'f', input: 'x' } }] }] }, 'messages[1].tool_calls[0].type'],
    ['assistant audio in history', { model: 'gemini-2.5-flash', messages: [...hi, { role: 'assistant', content: 'x', audio: { id: 'a1' } }] }, 'messages[1].audio'],
    ['a body that is not an object', [1, 2], ''],
  ])('%s', async (_name, json, param, message) => {
    const t = await refused(json);
    expect(t.status).toBe(400);
    expect(t.param ?? '').toBe(param);
    if (param !== '') expect(t.message).toContain(param);
    if (message) expect(t.message).toMatch(message);
  });

  it('an unknown model: code model_not_found, naming the served ones', async () => {
    const t = await refused(req({ model: 'gpt-4o' }));
    expect(t).toMatchObject({ status: 400, param: 'model', code: 'model_not_found' });
    expect(t.message).toContain("'gpt-4o'");
    expect(t.message).toContain('gemini-2.5-flash, gemini-3-pro-preview');
  });

  it('a missing model', async () => {
    expect(await refused({ messages: hi })).toMatchObject({ param: 'model' });
  });
});

describe('chatToGemini: messages', () => {
  it('system and developer messages join the system instruction; roles map; same roles merge', async () => {
    const t = await ok(
      req({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
          { role: 'user', content: 'one' },
          { role: 'user', content: [{ type: 'text', text: 'two' }] },
          { role: 'assistant', content: 'un deux' },
          { role: 'assistant', content: [{ type: 'text', text: ' trois' }, { type: 'refusal', refusal: 'no' }] },
          { role: 'user', content: 'again' },
        ],
      }),
    );
    expect(t.body.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }, { text: 'Answer in French.' }] });
    expect(t.body.contents).toEqual([
      { role: 'user', parts: [{ text: 'one' }, { text: 'two' }] },
      { role: 'model', parts: [{ text: 'un deux' }, { text: ' trois' }] },
      { role: 'user', parts: [{ text: 'again' }] },
    ]);
  });

  it('an image data URL becomes inlineData with its mime type', async () => {
    const t = await ok(
      req({
        messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/PNG;base64,iVBORw0KGgo=', detail: 'low' } }] }],
      }),
    );
    expect(t.body.contents).toEqual([{ role: 'user', parts: [{ text: 'what is this?' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } }] }]);
  });

  it('an http image URL is fetched only when fetching is on, and its bytes go inline', async () => {
    const fetched: string[] = [];
    const t = await ok(req({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://img.example/cat.jpg' } }] }] }), {
      models: MODELS,
      fetchUrls: true,
      fetchImage: async (url) => {
        fetched.push(url);
        return { mimeType: 'image/jpeg', data: Buffer.from('jpeg-bytes') };
      },
    });
    expect(fetched).toEqual(['https://img.example/cat.jpg']);
    expect(t.body.contents).toEqual([{ role: 'user', parts: [{ inlineData: { mimeType: 'image/jpeg', data: Buffer.from('jpeg-bytes').toString('base64') } }] }]);
  });

  it('a failed fetch is a 400 naming the part; a foreign error does not leak its text', async () => {
    const { ImageFetchError } = await import('../../src/gateway/fetchImage.ts');
    const messages = [{ role: 'user' as const, content: [{ type: 'image_url' as const, image_url: { url: 'http://10.0.0.1/x.png' } }] }];
    const own = await refused(req({ messages }), { models: MODELS, fetchUrls: true, fetchImage: async () => { throw new ImageFetchError('address', 'the image host is private'); } });
    expect(own).toMatchObject({ param: 'messages[0].content[0].image_url.url' });
    expect(own.message).toContain('the image host is private');
    const foreign = await refused(req({ messages }), { models: MODELS, fetchUrls: true, fetchImage: async () => { throw new Error('ECONNREFUSED /internal/path secret'); } });
    expect(foreign.message).not.toContain('secret');
  });

  it('tool results answer the calls by name; consecutive tool messages merge into one user turn', async () => {
    const t = await ok(
      req({
        messages: [
          { role: 'user', content: 'weather and time in Paris?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
              { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_a', content: '{"temp":21}' },
          { role: 'tool', tool_call_id: 'call_b', content: [{ type: 'text', text: '14:00' }] },
        ],
      }),
    );
    expect(t.body.contents).toEqual([
      { role: 'user', parts: [{ text: 'weather and time in Paris?' }] },
      {
        role: 'model',
        parts: [
          // No signature was kept for these ids: the first call gets the documented placeholder.
          { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: SKIP_SIGNATURE },
          { functionCall: { name: 'get_time', args: {} } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_weather', response: { temp: 21 } } },
          { functionResponse: { name: 'get_time', response: { result: '14:00' } } },
        ],
      },
    ]);
  });

  it('a kept signature goes back on its own call, the placeholder only where none is kept', async () => {
    const signatures = new MemorySignatureStore();
    signatures.put('call_b', 'c2lnLWI=');
    const t = await ok(
      req({
        messages: [
          ...hi,
          { role: 'assistant', tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'f', arguments: '{}' } }, { id: 'call_b', type: 'function', function: { name: 'g', arguments: '{}' } }] },
        ],
      }),
      { models: MODELS, signatures },
    );
    expect(t.body.contents).toEqual([
      { role: 'user', parts: [{ text: 'hi' }] },
      {
        role: 'model',
        parts: [
          { functionCall: { name: 'f', args: {} }, thoughtSignature: SKIP_SIGNATURE },
          { functionCall: { name: 'g', args: {} }, thoughtSignature: 'c2lnLWI=' },
        ],
      },
    ]);
  });
});
