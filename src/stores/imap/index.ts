/**
 * The IMAP driver's public face: the only module outside src/stores/imap/ may import (open.ts opens it; the engine
 * sees only MailStore). imapflow stays behind it.
 */
export { ImapError } from './errors.js';
export { ImapStore, type ImapServerFacts, type ImapStoreOptions } from './store.js';
