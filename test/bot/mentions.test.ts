import { describe, expect, it } from 'vitest';
import { EARLIER_QUESTION_TEXT, answerText, chainTurns, messageText } from '../../src/bot/mentions.ts';

describe('reply chains as conversations', () => {
  it('people are user turns as Name: text, answers model turns; neighbours of one role merge', () => {
    const turns = chainTurns([
      { fromBot: false, author: 'Alice', text: 'hi' },
      { fromBot: false, author: 'Bob', text: 'me too' },
      { fromBot: true, author: 'Bot', text: 'part one' },
      { fromBot: true, author: 'Bot', text: 'part two' },
      { fromBot: false, author: 'Alice', text: 'ok' },
    ]);
    expect(turns).toEqual([
      { role: 'user', parts: [{ text: 'Alice: hi\nBob: me too' }] },
      { role: 'model', parts: [{ text: 'part one\npart two' }] },
      { role: 'user', parts: [{ text: 'Alice: ok' }] },
    ]);
  });

  it('a chain that starts at an answer gets a stand-in question first', () => {
    const turns = chainTurns([
      { fromBot: true, author: 'Bot', text: 'an /ask answer' },
      { fromBot: false, author: 'Alice', text: 'why?' },
    ]);
    expect(turns.map((t) => t.role)).toEqual(['user', 'model', 'user']);
    expect(turns[0]!.parts).toEqual([{ text: EARLIER_QUESTION_TEXT }]);
  });

  it('drops the mentions of the bot and names other people', () => {
    const names = new Map([['22', 'Bob']]);
    expect(messageText('<@11> ask <@!22> and <@33>, <@&44>  please', new Set(['11', '44']), names)).toBe('ask @Bob and <@33>, please');
  });

  it('reads an answer without its footer and source lines', () => {
    expect(answerText('The answer.\n\nMore.\n-# [1] [site](<https://x>)\n-# gemini-2.5-flash · 1.2 s')).toBe('The answer.\n\nMore.');
  });
});
