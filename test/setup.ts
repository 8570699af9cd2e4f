/**
 * Runs before every test file: the developer's shell must not configure the code under
 * test. Every variable the configuration reads, and every one a library we use reads on its
 * own (discord.js: SHARD_COUNT, SHARDS, DISCORD_TOKEN; @google/genai: GEMINI_API_KEY,
 * GOOGLE_API_KEY, GOOGLE_GENAI_USE_VERTEXAI ...), is removed from this process's
 * environment. Tests pass each configuration explicitly, and every child process a test
 * spawns gets an explicit environment (with `ENV_FILE` empty or a file of its own), so the
 * repository's `.env` is never read either.
 */
import { CONFIG_VARIABLES } from '../src/config.ts';

const OURS = new Set([...CONFIG_VARIABLES, 'ENV_FILE']);
const LIBRARIES = new Set(['SHARDS', 'SHARD_COUNT', 'SHARDING_MANAGER', 'SHARDING_MANAGER_MODE', 'DISCORD_TOKEN']);

for (const name of Object.keys(process.env)) {
  if (OURS.has(name) || LIBRARIES.has(name) || /^(GEMINI|GOOGLE|DISCORD)_/i.test(name)) delete process.env[name];
}
// A child spawned with a copy of this environment reads no `.env` either.
process.env.ENV_FILE = '';
