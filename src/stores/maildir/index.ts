/**
 * The maildir driver's public face: the only module outside src/stores/maildir/ may import. The message engine sees
 * the store (MaildirStore, through open.ts); convert writes through MaildirTarget; the CLI may start the writer
 * thread early (warmUp) while it parses arguments.
 */
export { MaildirStore } from './store.js';
export { MessageDraft } from './draft.js';
export { MaildirTarget, type FolderDone, type UidOutcome, type UidSource } from './writer.js';
export { prestartWriterThread as warmUp } from './write-queue.js';
