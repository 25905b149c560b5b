import path from 'node:path';
import type { MailboxCounts, RestoreReport, SkippedEntry } from './restore.js';
import type { FlushOutcome } from './restore-writer.js';

/**
 * A writer that places files later (over ssh) counts them when they are staged; what its flush found is put right
 * here: a name taken by then is a message that was there, a hard link not made is listed.
 */
export function correctCounts(
  flushed: FlushOutcome,
  at: { mailRoot: string; homeRoot: string | undefined; mailboxOfFolder: Map<string, string>; counts: Map<string, MailboxCounts>; extras: RestoreReport['extras']; skipped: SkippedEntry[] },
): void {
  const countsAt = (file: string) => {
    const rel = path.posix.relative(at.mailRoot, file);
    const mailbox = rel.startsWith('..') ? undefined : at.mailboxOfFolder.get(path.posix.dirname(path.posix.dirname(rel)));
    return mailbox === undefined ? undefined : at.counts.get(mailbox);
  };
  for (const taken of flushed.taken) {
    const c = countsAt(taken.path);
    if (c) {
      c.written -= 1;
      c.bytes -= taken.bytes;
      c.existing += 1;
    } else if (at.homeRoot !== undefined) {
      const rel = path.posix.relative(at.homeRoot, taken.path);
      at.extras.written = at.extras.written.filter((w) => w !== rel);
      at.extras.keptTarget.push(rel);
    }
  }
  for (const file of flushed.linksTaken) {
    const c = countsAt(file);
    if (c) {
      c.linked -= 1;
      c.existing += 1;
    }
  }
  for (const failed of flushed.linksNotMade) {
    const c = countsAt(failed.path);
    if (c) c.linked -= 1;
    at.skipped.push({ item: path.posix.relative(at.mailRoot, failed.path), reason: `hard link not made: ${failed.reason}; not written` });
  }
}
