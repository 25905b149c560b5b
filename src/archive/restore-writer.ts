import type { EntryBody } from './tar.js';

/**
 * What a restore writes through (restore.ts): a tree of maildirs and home files, here (MaildirTreeWriter) or on an
 * ssh host (RemoteTreeWriter). Contract, for both:
 * - Nothing on the target is overwritten or deleted; a message reaches cur/ or new/ only whole, under its archived
 *   name, and not at all when the folder has its maildir base name already.
 * - No directory is made or written through a link; a name that is not a directory where one is needed throws
 *   MAILSHIFT_TARGET_NOT_DIR for that entry (the restore lists it and goes on).
 * - `flush` makes every write so far visible on the target; what it could not place comes back in its outcome.
 */

export type MessageOutcome = 'written' | 'linked' | 'copied' | 'exists';

export interface ControlFileOutcome {
  readonly path: string;
  readonly action: 'written' | 'take-source' | 'keep-target' | 'unchanged';
  readonly reason: string;
}

/**
 * Writes a flush found it could not finish as counted (absolute paths): a file whose name was taken by the time it
 * was placed (nothing replaced: counted as there already), a hard link whose name was taken, a hard link not made.
 */
export interface FlushOutcome {
  readonly taken: readonly { readonly path: string; readonly bytes: number }[];
  readonly linksTaken: readonly string[];
  readonly linksNotMade: readonly { readonly path: string; readonly reason: string }[];
}

export const nothingToFlush: FlushOutcome = { taken: [], linksTaken: [], linksNotMade: [] };

export interface RestoreWriter {
  /** The absolute directory written into. */
  readonly root: string;
  ensureDir(rel: string): Promise<string>;
  openFolder(folderRel: string): Promise<unknown>;
  /** The target's (or this run's) file with the base name of `name` in a folder, as a path `linkMessage` takes. */
  findMessage(folderRel: string, name: string): string | undefined;
  writeMessage(folderRel: string, sub: 'cur' | 'new', name: string, body: EntryBody, mtimeSec: number, sizeBytes?: number): Promise<MessageOutcome>;
  linkMessage(folderRel: string, sub: 'cur' | 'new', name: string, from: string, mtimeSec: number): Promise<MessageOutcome>;
  stageControlFile(folderRel: string, name: string, body: EntryBody): Promise<void>;
  writeIfAbsent(rel: string, body: EntryBody, mtimeSec: number, mode?: number): Promise<boolean>;
  flush(): Promise<FlushOutcome>;
  settleControlFiles(): Promise<ControlFileOutcome[]>;
}
