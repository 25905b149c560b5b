import type { MailboxPath } from '../../src/core/types.js';
import type { Mailbox, MailStore } from '../../src/stores/store.js';

/**
 * A store whose mailboxes behave as `inner`'s, with some members replaced (a fault, a recorder): for unit tests of
 * code that sees only the store interface.
 */
export function wrapMailboxes(inner: MailStore, override: (box: Mailbox) => Partial<Mailbox>): MailStore {
  return {
    kind: inner.kind,
    get caps() {
      return inner.caps;
    },
    listMailboxes: (signal?: AbortSignal) => inner.listMailboxes(signal),
    async openMailbox(path: MailboxPath, mode: 'read' | 'write'): Promise<Mailbox> {
      const box = await inner.openMailbox(path, mode);
      return Object.assign(Object.create(box) as Mailbox, override(box));
    },
    [Symbol.asyncDispose]: () => inner[Symbol.asyncDispose](),
  };
}
