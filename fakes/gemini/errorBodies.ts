/**
 * Error bodies of the fake Gemini, as Google sends them: `{ error: { code, message, status,
 * details } }` with ErrorInfo, QuotaFailure, Help and RetryInfo details, the HTML page of a
 * 502 from Google's front end, and quota messages naming metric, limit and model.
 */
import type { Json, Outcome } from './types.ts';

const ERROR_INFO = 'type.googleapis.com/google.rpc.ErrorInfo';
const SERVICE = 'generativelanguage.googleapis.com';
const REQUESTS_METRIC = 'generativelanguage.googleapis.com/generate_content_free_tier_requests';
const TOKENS_METRIC = 'generativelanguage.googleapis.com/generate_content_free_tier_input_token_count';

/** The page Google's front end sends with a 502 (HTML, not JSON). */
const HTML_502 =
  '<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 502 (Server Error)!!1</title>\n' +
  '  <p><b>502.</b> <ins>That’s an error.</ins>\n  <p>The server encountered a temporary error and could not ' +
  'complete your request.<p>Please try again in 30 seconds.  <ins>That’s all we know.</ins>\n';

/** Protobuf Duration text for a delay in ms: "37s", "0.35s" (never an exponent). */
export function durationText(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  return `${whole / 1000}s`;
}

/** Google's error envelope; `details` only when there are some. */
export function googleError(code: number, status: string, message: string, details?: unknown[]): Json {
  const error: Json = { code, message, status };
  if (details && details.length > 0) error.details = details;
  return { error };
}

/** An ErrorInfo detail with its reason (e.g. API_KEY_INVALID), as the SDK's callers match on it. */
export function errorInfo(reason: string, metadata: Record<string, string> = {}): Json {
  return { '@type': ERROR_INFO, reason, domain: 'googleapis.com', metadata: { ...metadata, service: SERVICE } };
}

/** 404 for a model this API version does not serve. */
export function notFoundModel(model: string, apiVersion: string, method: string): Outcome {
  return {
    kind: 'json',
    status: 404,
    body: googleError(
      404,
      'NOT_FOUND',
      `models/${model} is not found for API version ${apiVersion || 'v1beta'}, or is not supported for ${method}. ` +
        'Call ListModels to see the list of available models and their supported methods.',
    ),
  };
}

/** The body the real service sends with an injected HTTP status (`message` overrides its text). */
export function statusFault(status: number, message: string | undefined, model: string | null, apiVersion: string): Outcome {
  const json = (code: number, s: string, m: string, details?: unknown[]): Outcome => ({
    kind: 'json',
    status: code,
    body: googleError(code, s, message ?? m, details),
  });
  switch (status) {
    case 400:
      return json(400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.');
    case 401:
      return json(
        401,
        'UNAUTHENTICATED',
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
      );
    case 402:
      return billingError(message);
    case 403:
      return json(403, 'PERMISSION_DENIED', 'The caller does not have permission');
    case 404:
      if (message === undefined) return notFoundModel(model ?? 'unknown', apiVersion, 'generateContent');
      return json(404, 'NOT_FOUND', message);
    case 429:
      return json(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).');
    case 500:
      return json(
        500,
        'INTERNAL',
        'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
      );
    case 502:
      return { kind: 'raw', status: 502, contentType: 'text/html; charset=UTF-8', body: message ?? HTML_502 };
    case 503:
      return json(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.');
    case 504:
      return json(504, 'DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.');
    default:
      return json(status, 'UNKNOWN', 'Unknown error.');
  }
}

/** 402 of a project without billing, with its BILLING_DISABLED reason. */
export function billingError(message?: string): Outcome {
  return {
    kind: 'json',
    status: 402,
    body: googleError(
      402,
      'FAILED_PRECONDITION',
      message ??
        'Billing is not enabled for this project, or its billing account is closed or in bad standing. Enable billing at https://console.cloud.google.com/billing and retry.',
      [errorInfo('BILLING_DISABLED')],
    ),
  };
}

/** Which quota a request exceeded, its limit, and the RetryInfo delay (null: none sent). */
export interface QuotaHit {
  per: 'minute' | 'day' | 'tokens';
  quotaValue: string;
  retryDelay: string | null;
}

/** A 429 RESOURCE_EXHAUSTED with QuotaFailure, Help and (unless null) RetryInfo details. */
export function quotaError(model: string | null, hit: QuotaHit): Outcome {
  const quotaId =
    hit.per === 'minute'
      ? 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier'
      : hit.per === 'day'
        ? 'GenerateRequestsPerDayPerProjectPerModel-FreeTier'
        : 'GenerateContentInputTokensPerModelPerMinute-FreeTier';
  const metric = hit.per === 'tokens' ? TOKENS_METRIC : REQUESTS_METRIC;
  const dims: Record<string, string> = model ? { model, location: 'global' } : { location: 'global' };
  const details: Json[] = [
    {
      '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
      violations: [{ quotaMetric: metric, quotaId, quotaDimensions: dims, quotaValue: hit.quotaValue }],
    },
    {
      '@type': 'type.googleapis.com/google.rpc.Help',
      links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }],
    },
  ];
  if (hit.retryDelay !== null) {
    details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: hit.retryDelay });
  }
  const message =
    'You exceeded your current quota, please check your plan and billing details. For more information on this error, ' +
    'head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, head to: ' +
    'https://ai.dev/usage?tab=rate-limit. \n' +
    `* Quota exceeded for metric: ${metric}, limit: ${hit.quotaValue}${model ? `, model: ${model}` : ''}` +
    (hit.retryDelay !== null ? `\nPlease retry in ${hit.retryDelay}.` : '');
  return { kind: 'json', status: 429, body: googleError(429, 'RESOURCE_EXHAUSTED', message, details) };
}
