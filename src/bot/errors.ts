/** Errors as the bot logs them. */

/** An error for the log: name, message and stack, nothing attached (request bodies may be large). */
export function errorSummary(err: unknown): { name: string; message: string; stack?: string } {
  if (err instanceof Error) return { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  return { name: 'NonError', message: String(err) };
}
