import type { FetchMessageObject } from 'imapflow';
import type { ListedMessage } from '../store.js';
import { splitImapFlags } from './flags.js';
import { parseImapDateTime, type FetchAttributes } from './response-framer.js';

/** A FETCH answer (the raw session's, or imapflow's) as a listed message: UID, flags, INTERNALDATE, RFC822.SIZE, header fields. */
export function toListedFromRaw(attributes: FetchAttributes & { uid: number }): ListedMessage {
  const { flags, keywords } = splitImapFlags(attributes.flags ?? []);
  const internalDate = attributes.internalDate === undefined ? undefined : parseImapDateTime(attributes.internalDate);
  return {
    id: String(attributes.uid),
    uid: attributes.uid,
    flags,
    keywords,
    ...(internalDate ? { internalDate } : {}),
    ...(attributes.size !== undefined ? { sizeBytes: attributes.size } : {}),
    ...(attributes.headerFields ? { headers: attributes.headerFields } : {}),
  };
}

export function toListed(message: FetchMessageObject): ListedMessage {
  const { flags, keywords } = splitImapFlags(message.flags ?? []);
  const internalDate = message.internalDate === undefined ? undefined : new Date(message.internalDate);
  return {
    id: String(message.uid),
    uid: message.uid,
    flags,
    keywords,
    ...(internalDate && !Number.isNaN(internalDate.getTime()) ? { internalDate } : {}),
    ...(message.size !== undefined ? { sizeBytes: message.size } : {}),
    ...(message.headers ? { headers: message.headers } : {}),
  };
}
