/**
 * The vocabulary of a Gemini call, shared by the adapter (which produces it) and the pool
 * (which acts on it). It depends on nothing, so every layer may import it.
 */

/** Every way a Gemini call can fail, after classification (see `classify.ts`). */
export const ERROR_KINDS = [
  'rate_limited',
  'quota_exhausted',
  'auth',
  'billing',
  'overloaded',
  'transient',
  'timeout',
  'bad_request',
  'blocked',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** Token usage reported by Gemini for one answer. */
export interface TokenUsage {
  promptTokens: number;
  outputTokens: number;
  totalTokens: number;
}

/** A file's bytes sent with the prompt (an image, a PDF): base64 in `data`. */
export interface InlineData {
  mimeType: string;
  data: string;
}

/** One part of a turn, in Gemini's `Part` shape: text, or a file sent inline. */
export type ChatPart = { text: string } | { inlineData: InlineData };

/** One turn of a conversation, in Gemini's `Content` shape. */
export interface ChatTurn {
  role: 'user' | 'model';
  parts: ChatPart[];
}

/** A web page an answer grounded in Google Search cites. */
export interface Source {
  title: string;
  uri: string;
}

/** How much a thinking model may think before it answers. */
export const THINKING_LEVELS = ['low', 'medium', 'high'] as const;
export type ThinkingLevel = (typeof THINKING_LEVELS)[number];

/**
 * The thinking budget (tokens) of each level, as Gemini's `thinkingConfig.thinkingBudget`:
 * within what every 2.5 model takes (Flash and Flash-Lite up to 24,576, Pro 128 to 32,768).
 */
export const THINKING_BUDGET_TOKENS: { readonly [L in ThinkingLevel]: number } = { low: 1_024, medium: 8_192, high: 24_576 };
