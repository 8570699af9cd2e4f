/**
 * Chats on the pool: the conversation's history is kept here, not in an SDK chat object.
 */
import type { ChatTurn } from '../gemini/types.ts';
import type { GenerateRequest, PoolResult, PoolStream } from './types.ts';

/** What a chat needs of the pool. */
export interface ChatBackend {
  readonly defaultModel: string;
  generateContent(req: GenerateRequest): Promise<PoolResult>;
  generateContentStream(req: GenerateRequest): PoolStream;
}

/**
 * A multi-turn chat. The history lives here, not in an SDK chat object, so when a key fails
 * the next message simply goes out on another key with the same history.
 */
export class PoolChat {
  readonly model: string;
  readonly systemInstruction: string | undefined;
  #history: ChatTurn[];
  /** The key that answered last (`key#N`), for display. */
  lastKeyId: string | undefined;

  constructor(
    private readonly pool: ChatBackend,
    options: { model?: string; history?: ChatTurn[]; systemInstruction?: string },
  ) {
    this.model = options.model ?? pool.defaultModel;
    this.systemInstruction = options.systemInstruction;
    this.#history = structuredClone(options.history ?? []);
  }

  /** A copy of the history so far. */
  get history(): ChatTurn[] {
    return structuredClone(this.#history);
  }

  #request(text: string, extra: Partial<GenerateRequest>): GenerateRequest {
    const req: GenerateRequest = { ...extra, model: this.model, contents: [...this.#history, { role: 'user', parts: [{ text }] }] };
    if (this.systemInstruction !== undefined) req.systemInstruction = this.systemInstruction;
    return req;
  }

  #commit(text: string, result: PoolResult): void {
    if (!result.ok) return;
    this.lastKeyId = result.keyId;
    this.#history.push({ role: 'user', parts: [{ text }] }, { role: 'model', parts: [{ text: result.text }] });
  }

  /** Sends one user turn; the history grows only when the answer arrives. */
  async sendMessage(text: string, extra: Partial<GenerateRequest> = {}): Promise<PoolResult> {
    const result = await this.pool.generateContent(this.#request(text, extra));
    this.#commit(text, result);
    return result;
  }

  /** Streams one user turn. */
  sendMessageStream(text: string, extra: Partial<GenerateRequest> = {}): PoolStream {
    const stream = this.pool.generateContentStream(this.#request(text, extra));
    const result = stream.result.then((r) => {
      this.#commit(text, r);
      return r;
    });
    return { result, [Symbol.asyncIterator]: () => stream[Symbol.asyncIterator]() };
  }
}
