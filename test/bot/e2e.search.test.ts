/**
 * End to end: Google Search grounding. `/ask search:true` sends the googleSearch tool; the
 * fake Gemini answers with groundingMetadata, and the answer lists its sources as numbered
 * links under the text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_ID, alice, bool, expectWorldInvariants, startWorld, str, waitForAnswer, type World } from './harness.ts';

describe('search grounding', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(async () => {
    if (!w) return;
    expectWorldInvariants(w);
    await w.close();
  });

  it('search:true sends the googleSearch tool and the answer shows numbered sources above the footer', async () => {
    w.gemini.setGrounding(() => [
      { title: 'Nobel [Prize] <official>', uri: 'https://www.nobelprize.org/prizes/physics/' },
      { title: 'Wikipedia', uri: 'https://en.wikipedia.org/wiki/Nobel_Prize_in_Physics' },
      { title: 'Wikipedia again', uri: 'https://en.wikipedia.org/wiki/Nobel_Prize_in_Physics' },
    ]);
    try {
      const it1 = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'Who won the physics Nobel?'), bool('search', true)], user: alice, channelId: CHANNEL_ID });
      const [reply] = await waitForAnswer(w, it1);
      const req = w.gemini.requests.at(-1)!;
      expect(req.body.tools).toEqual([{ googleSearch: {} }]);
      expect(reply!.content.split('\n')).toEqual([
        'echo: Who won the physics Nobel?',
        '-# [1] [Nobel Prize official](<https://www.nobelprize.org/prizes/physics/>)',
        '-# [2] [Wikipedia](<https://en.wikipedia.org/wiki/Nobel_Prize_in_Physics>)',
        expect.stringMatching(/^-# gemini-2\.5-flash · /),
      ]);
    } finally {
      w.gemini.setGrounding(undefined);
    }
  });

  it('a link in a searched prompt adds URL context (Gemini reads it, the bot does not); without search nothing is added', async () => {
    const it1 = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'Sum up https://example.org/post'), bool('search', true)], user: alice, channelId: CHANNEL_ID });
    await waitForAnswer(w, it1);
    expect(w.gemini.requests.at(-1)!.body.tools).toEqual([{ googleSearch: {} }, { urlContext: {} }]);

    const it2 = await w.discord.sendCommand({ name: 'ask', options: [str('prompt', 'No search here')], user: alice, channelId: CHANNEL_ID });
    const [plain] = await waitForAnswer(w, it2);
    expect(w.gemini.requests.at(-1)!.body.tools).toBeUndefined();
    expect(plain!.content).not.toContain('-# [1]');
  });
});
