/**
 * The ConversationStore contract: conversations and meta values, as the bot uses them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ConversationStore, StoredConversation } from '../../src/store/types.ts';
import type { StoreHarness } from './contract.ts';

/** The bot's side: conversations and meta values. */
export function describeConversationStoreContract(name: string, makeStore: () => Promise<StoreHarness<ConversationStore>>): void {
  describe(`ConversationStore contract: ${name}`, () => {
    let h: StoreHarness<ConversationStore>;
    let store: ConversationStore;
    beforeEach(async () => {
      h = await makeStore();
      store = h.store;
    });
    afterEach(async () => {
      await h.close();
    });

    describe('conversations', () => {
      it('saves, reads, overwrites and deletes', async () => {
        expect(await store.getConversation('thread-1')).toBeUndefined();
        const c: StoredConversation = {
          model: 'gemini-2.5-flash',
          history: [
            { role: 'user', parts: [{ text: 'hello "there" \n ünïcödé 🎉' }] },
            { role: 'model', parts: [{ text: 'hi' }] },
          ],
          ownerId: '123456789012345678',
          updatedAt: 1_700_000_000_000,
        };
        await store.saveConversation('thread-1', c);
        expect(await store.getConversation('thread-1')).toEqual(c);

        const dm: StoredConversation = { model: 'gemini-2.5-pro', history: [], updatedAt: 5 };
        await store.saveConversation('dm-2', dm);
        const gotDm = await store.getConversation('dm-2');
        expect(gotDm).toEqual(dm);
        expect(gotDm).not.toHaveProperty('ownerId');

        const c2: StoredConversation = { ...c, history: [...c.history, { role: 'user', parts: [{ text: 'more' }] }], updatedAt: 6 };
        await store.saveConversation('thread-1', c2);
        expect(await store.getConversation('thread-1')).toEqual(c2);

        await store.deleteConversation('thread-1');
        await store.deleteConversation('never-was');
        expect(await store.getConversation('thread-1')).toBeUndefined();
        expect(await store.getConversation('dm-2')).toEqual(dm);
      });

      it('keeps what was saved, not the caller object', async () => {
        const c: StoredConversation = { model: 'm', history: [{ role: 'user', parts: [{ text: 'a' }] }], updatedAt: 1 };
        await store.saveConversation('x', c);
        c.history.push({ role: 'model', parts: [{ text: 'b' }] });
        expect((await store.getConversation('x'))?.history).toHaveLength(1);
      });

      it('prunes conversations last updated before a time, and only those', async () => {
        const at = (updatedAt: number): StoredConversation => ({ model: 'm', history: [], updatedAt });
        await store.saveConversation('old-1', at(1_000));
        await store.saveConversation('old-2', at(1_999));
        await store.saveConversation('new', at(2_000));
        expect(await store.pruneConversations(2_000)).toBe(2);
        expect(await store.getConversation('old-1')).toBeUndefined();
        expect(await store.getConversation('old-2')).toBeUndefined();
        expect(await store.getConversation('new')).toEqual(at(2_000));
        expect(await store.pruneConversations(2_000)).toBe(0);
      });
    });

    describe('meta', () => {
      it('gets and sets strings', async () => {
        expect(await store.getMeta('commandsHash')).toBeUndefined();
        await store.setMeta('commandsHash', 'abc');
        await store.setMeta('other', '');
        await store.setMeta('commandsHash', 'def');
        expect(await store.getMeta('commandsHash')).toBe('def');
        expect(await store.getMeta('other')).toBe('');
      });
    });
  });
}
