/**
 * Where Gemini requests go, and why they could not get there, in the words an operator
 * acts on: "connection refused to 127.0.0.1:9 (GEMINI_BASE_URL)" rather than
 * "transient: network error".
 */
import { connect } from 'node:net';

/** Google's endpoint, when GEMINI_BASE_URL is not set. */
export const GOOGLE_ENDPOINT = 'https://generativelanguage.googleapis.com';

/** `host:port` of a base URL (the scheme's default port when none is written). */
export function hostPort(baseUrl: string): { host: string; port: number; label: string } {
  const u = new URL(baseUrl);
  const port = u.port ? Number(u.port) : u.protocol === 'http:' ? 80 : 443;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return { host, port, label: `${u.hostname}:${port}` };
}

/** Network failures as the classifier words them (new: "connection refused to ..."; old: "network error (CODE)"). */
const NETWORK_TEXT = /^(connection refused|cannot resolve|connection reset|connection timed out|connection closed|cannot connect|no route|network error|tls|certificate)/i;

/** Whether a failure is the network's (the request never got an HTTP answer). */
export function isNetworkFailure(error: { kind: string; message: string }): boolean {
  return error.kind === 'transient' && NETWORK_TEXT.test(error.message.trim());
}

/** Words for a socket error code. */
function codeWords(code: string | undefined, target: string, host: string): string | undefined {
  switch (code) {
    case 'ECONNREFUSED':
      return `connection refused to ${target}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${host}`;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return `connection reset by ${target}`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `connection timed out to ${target}`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to ${target}`;
    default:
      return undefined;
  }
}

/**
 * Opens (and closes) one TCP connection to the endpoint, to say what is wrong when the
 * failure's own text does not: refused, unresolvable, no answer, or reachable after all.
 */
export function probe(baseUrl: string, timeoutMs = 2000): Promise<string | undefined> {
  const { host, port, label } = hostPort(baseUrl);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (what: string | undefined): void => {
      socket.destroy();
      resolve(what);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer from ${label} within ${timeoutMs} ms`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(codeWords(err.code, label, host) ?? `cannot connect to ${label} (${err.code ?? 'error'})`));
  });
}

/**
 * One line for a network failure: what happened, to which `host:port`, and which variable
 * chose that endpoint. Uses the failure's own words when they are specific, otherwise
 * probes the endpoint. Undefined when the failure is not the network's.
 */
export async function describeNetworkFailure(error: { kind: string; message: string }, baseUrl: string | undefined): Promise<string | undefined> {
  if (!isNetworkFailure(error)) return undefined;
  const endpoint = baseUrl ?? GOOGLE_ENDPOINT;
  const { host, label } = hostPort(endpoint);
  const where = baseUrl ? ' (GEMINI_BASE_URL)' : " (Google's endpoint; GEMINI_BASE_URL is not set)";
  const text = error.message.trim();
  const code = /\(([A-Z_]+)\)\s*$/.exec(text)?.[1];
  let what: string | undefined;
  if (/^network error/i.test(text)) what = codeWords(code, label, host) ?? (await probe(endpoint)) ?? `network error reaching ${label}`;
  else if (text.includes(host)) what = text;
  else what = /^(connection refused|connection timed out|no route)$/i.test(text) ? `${text} to ${label}` : `${text} (${label})`;
  return `${what}${where}`;
}
