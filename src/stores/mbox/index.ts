/**
 * The mbox driver's public face: the only module outside src/stores/mbox/ may import. The message engine sees the
 * store (MboxStore, through open.ts); convert reads files, framing and messages directly, streaming, without a store.
 */
export { MboxStore, type MboxStoreOptions } from './store.js';
export { MboxMessageAssembler, type AssembledMessage, type MboxMessageHandler } from './messages.js';
export { readMboxFile, readMboxFraming, sniffMbox, type MboxFraming, type MboxMessageSink, type MboxSniff } from './reader.js';
export { readMboxSourceTree, type IgnoredSourceEntry, type MboxSourceFile, type MboxSourceTree } from './tree.js';
