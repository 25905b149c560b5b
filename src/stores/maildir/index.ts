/**
 * The maildir driver's public face: the only module outside src/stores/maildir/ may import. The message engine sees
 * the store (MaildirStore, through open.ts); convert writes through MaildirTarget and places messages in source order
 * through OrderedPlacement (the writer's digests stay in here); the CLI may start the writer thread early (warmUp).
 */
export { MaildirStore } from './store.js';
export { hashSourceKey } from './mailbox.js';
export { MessageDraft } from './draft.js';
export { OrderedPlacement } from './placement.js';
export { MaildirTarget, type FolderDone, type UidOutcome, type UidSource } from './writer.js';
export { prestartWriterThread as warmUp } from './write-queue.js';
