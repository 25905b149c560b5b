import type { SystemFlag } from '../flags.js';
import { decideGmailPlacement, type GmailLabelMode } from './gmail-folders.js';
import { decideMessageState, type MboxMessageMetadata } from './metadata.js';

export interface MboxPlacement {
  /** Folders the message is stored in: the file's own, or (Gmail Takeout) one per folder label. */
  readonly folders: readonly string[];
  /** True when the folders came from X-Gmail-Labels rather than from the file's place in the tree. */
  readonly isRouted: boolean;
  readonly flags: Set<SystemFlag>;
  readonly keywords: Set<string>;
  /** Passed (forwarded): maildir letter P, IMAP keyword $Forwarded. */
  readonly passed: boolean;
  /** Never seen by a client: maildir new/. */
  readonly isNew: boolean;
}

/**
 * Where one mbox message goes and with which flags: the folder of its file, unless it carries Gmail labels and labels
 * are not ignored (maildir-format.md §6.5). Shared by convert and the mbox store so both place every message alike.
 */
export function decideMboxPlacement(meta: MboxMessageMetadata, fileFolder: string, gmailLabels: GmailLabelMode | 'ignore'): MboxPlacement {
  const state = decideMessageState(meta);
  if (meta.gmailLabels !== undefined && gmailLabels !== 'ignore') {
    const placement = decideGmailPlacement(meta.gmailLabels, gmailLabels);
    const keywords = new Set(state.keywords);
    for (const keyword of placement.keywords) keywords.add(keyword);
    return { folders: placement.folders, isRouted: true, flags: state.flags, keywords, passed: state.passed, isNew: state.isNew };
  }
  return { folders: [fileFolder], isRouted: false, flags: state.flags, keywords: state.keywords, passed: state.passed, isNew: state.isNew };
}
