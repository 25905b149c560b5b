import { describeError } from '../../core/errors.js';
import type { MessageRef } from '../../core/types.js';
import type { Mailbox } from '../../stores/store.js';
import type { FolderContext } from './context.js';
import type { FolderCopyReport } from './report.js';
import { readStriped } from './striped-read.js';
import { decideExtraReaders, defaultSplitMinBytes, defaultStripeBytes, planReadStripes } from './stripes.js';

/**
 * A large folder's bodies over several connections (stripes.ts, striped-read.ts): borrows the run's spare
 * connections, opens the folder on each (side by side with the read that starts at once on the folder's own), and
 * gives them back when the read is closed. A handle whose folder has another UIDVALIDITY than the one listed (the
 * folder was recreated meanwhile) is not used: its UIDs would name other messages.
 *
 * Returns undefined when the folder is read over its own connection only (too small, nothing spare, a source that
 * cannot read side by side); the reason is logged either way.
 */
export interface SplitRead {
  readonly bodies: AsyncIterable<{ readonly ref: MessageRef; readonly content: Buffer }>;
  /** Disposes the extra handles (once every reader has stopped) and gives their connections back. */
  close(): Promise<void>;
}

export function openSplitRead(context: FolderContext, folder: FolderCopyReport, sourceBox: Mailbox, refs: readonly MessageRef[], uidValidity: number | undefined): SplitRead | undefined {
  const { source, options, signal } = context;
  const budget = context.connections;
  if (!source.store.caps.parallelRead || !sourceBox.readMany || uidValidity === undefined) return undefined;
  const stripes = planReadStripes(refs, options.stripeBytes ?? defaultStripeBytes);
  const bytes = refs.reduce((sum, ref) => sum + (ref.sizeBytes ?? 0), 0);
  // As many as the run could ever lend: those spare now join at once, the others when another folder is done.
  const decision = decideExtraReaders({ bytes, stripes: stripes.length, connections: budget.total, splitMinBytes: options.splitMinBytes ?? defaultSplitMinBytes });
  options.logger.debug(`${folder.source}: reading bodies over ${decision.reason}`);
  if (decision.extra === 0) return undefined;
  let isClosed = false;
  let borrowed = 0;
  const opened: Mailbox[] = [];
  const joining = Array.from({ length: decision.extra }, async (): Promise<Mailbox | undefined> => {
    if (!(await budget.borrowOneWhenSpare(() => isClosed))) return undefined;
    borrowed += 1;
    if (isClosed) return undefined;
    try {
      const box = await source.store.openMailbox(folder.source, 'read');
      opened.push(box);
      const status = await box.status();
      if (status.uidValidity !== uidValidity) {
        options.logger.warn(`${folder.source}: another connection found UIDVALIDITY ${status.uidValidity} instead of ${uidValidity}; reading over one connection`);
        return undefined;
      }
      return box;
    } catch (err) {
      // Fewer connections is only slower; a server that refuses another one is not an error.
      options.logger.debug(`${folder.source}: a further connection for reading could not be opened: ${describeError(err)}`);
      return undefined;
    }
  });
  return {
    bodies: readStriped({ first: sourceBox, joining, stripes, maxStripesAhead: 2 * (decision.extra + 1), signal }),
    async close() {
      isClosed = true;
      budget.wake();
      await Promise.allSettled(joining);
      for (const box of opened) {
        try {
          await box[Symbol.asyncDispose]();
        } catch {
          // a connection that failed was closed already
        }
      }
      budget.giveBack(borrowed);
    },
  };
}
