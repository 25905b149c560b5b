import path from 'node:path';
import type { Logger } from '../core/logger.js';
import { accountHomeItems } from '../cpanel/layout.js';
import type { FileSide } from '../hosts/side.js';
import { RemoteStage } from './remote-stage.js';
import { RemoteTreeWriter, readRemoteTree, type RemoteTree } from './remote-writer.js';
import type { RestoreTarget } from './restore.js';
import type { RestoreWriter } from './restore-writer.js';

/**
 * The writers of a restore into a tree on an ssh host: the maildirs (the target maildir, or the account's ~/mail) and,
 * for a whole account, the home's mail extras, sharing one RemoteStage whose staging directory is under the maildirs'
 * tmp/. Before anything is staged, the tree written into is made (its parents as `mkdir -p` does, itself never through
 * a link) and what it holds is read once.
 */

export interface RemoteWriters {
  readonly writers: { readonly mail: RestoreWriter; readonly home?: RestoreWriter };
  /** Removes the staging directory (after a failure, stops the remote tar first). */
  close(options: { readonly failed: boolean }): Promise<void>;
}

/** Directory mode of the maildir levels a restore makes, as the local restore makes them. */
const dirMode = 0o751;

export async function openRemoteWriters(
  side: FileSide,
  target: RestoreTarget,
  options: { readonly dryRun: boolean; readonly wholeAccount: boolean; readonly signal?: AbortSignal; readonly batchFiles?: number; readonly logger?: Logger },
): Promise<RemoteWriters> {
  const mailRoot = target.kind === 'maildir' ? target.path : path.posix.join(target.home, 'mail');
  const signal = options.signal ? { signal: options.signal } : {};
  const otherRoots = target.kind === 'cpanel-home' ? [target.home] : [];
  const stage = options.dryRun ? undefined : new RemoteStage(side, mailRoot, { dirMode, otherRoots, ...signal, ...(options.batchFiles ? { batchFiles: options.batchFiles } : {}) });
  await stage?.start();
  const mailTree = await readRemoteTree(side, mailRoot, signal);
  for (const rel of mailTree.leftovers) {
    if (stage && path.posix.join(mailRoot, rel) === stage.stagingDir) continue;
    // Never removed by a later run: another restore may be using it. Said, so that it is not forgotten.
    options.logger?.warn(`${side.describe(path.posix.join(mailRoot, rel))}: left by a restore that stopped; nothing in it is in place, and this run restores it again; remove it when no restore is running`);
  }
  const mail = new RemoteTreeWriter(mailRoot, side, stage, mailTree);
  let home: RestoreWriter | undefined;
  if (target.kind === 'cpanel-home') {
    // Home extras are restored with a whole account only; the home's web files are never listed.
    const tree: RemoteTree = options.wholeAccount ? await readRemoteTree(side, target.home, { subtrees: accountHomeItems, ...signal }) : { types: new Map(), folders: new Map(), leftovers: [] };
    home = new RemoteTreeWriter(target.home, side, stage, tree);
  }
  return {
    writers: { mail, ...(home ? { home } : {}) },
    close: async (how) => {
      await stage?.close(how);
    },
  };
}
