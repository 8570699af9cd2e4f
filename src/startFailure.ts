/**
 * One line for why an entry point could not do its work with Discord: `npm start` and
 * `npm run register` say the same thing for the same cause (a rejected token is "Discord
 * rejected DISCORD_TOKEN ...", not "401: Unauthorized" in one and a sentence in the other).
 * No stack, no secret: the first line of the error at most.
 */
export function describeStartFailure(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const status = typeof err === 'object' && err !== null ? (err as { status?: unknown }).status : undefined;
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  // discord.js' login says "An invalid token was provided."; its REST client throws the 401 itself.
  if (status === 401 || /invalid token|^401\b/i.test(message)) {
    return 'Discord rejected DISCORD_TOKEN (reset it in the Developer Portal -> Bot, and update .env)';
  }
  if (/disallowed intents/i.test(message)) {
    return 'Discord refused the Message Content intent: enable it in the Developer Portal -> Bot -> Privileged Gateway Intents';
  }
  if (status === 403 && (code === 50001 || /missing access/i.test(message))) {
    return 'Discord refused access (Missing Access): is the bot in the server DISCORD_GUILD_ID names, invited with the applications.commands scope?';
  }
  // A network failure before Discord answered: say where, and what to check.
  const network = /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)\b\s*(\S*)/.exec(message);
  if (network) {
    const where = network[2] ? ` ${network[2]}` : '';
    return `cannot reach Discord${where} (${network[1]}): check the network, a firewall or proxy, and DISCORD_API_URL if it is set`;
  }
  return message.split('\n')[0] ?? message;
}
