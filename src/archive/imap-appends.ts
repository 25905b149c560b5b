import { decideBackoffMs, retryAfterMs, sleep } from '../core/async.js';
import { isMailshiftError, type MailshiftError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { IncomingMessage, MailboxPath } from '../core/types.js';
import { buildContentHash, buildIdentity, identityHeaderFields } from '../engine/identity.js';
import { readAll, readHead } from '../engine/messages/read.js';
import type { FolderCopyReport } from '../engine/messages/report.js';
import type { Mailbox, MailStore } from '../stores/store.js';
import { buildClaimKey, ClaimLedger } from './imap-plan.js';

/**
 * The appends of a restore into an IMAP account (imap-writer.ts decides what to append; this sends it), through the
 * store interface only:
 *
 * - One target folder open at a time: an open mailbox holds one of the store's few connections, and a backup brings a
 *   folder's messages together. A folder is finished (every append answered) before the next is opened.
 * - Batches of up to `batchMessages` messages or 2 MiB go out as one MULTIAPPEND (appendMany), as many at once as the
 *   mailbox pipelines (appendSlots); `add` waits for a free slot, which is the back-pressure on the archive stream.
 * - A refused batch is sent again one message at a time (MULTIAPPEND is all or nothing); a message the server refuses
 *   is skipped and listed; a transient refusal (NO [UNAVAILABLE]) is sent again after a back-off (it stored nothing).
 * - An append whose answer was lost (the connection broke) may or may not have stored its messages: once nothing is in
 *   flight, the folder is listed again and each such message is settled against the ledger (imap-plan.ts), so only
 *   those not there go out again.
 */

export interface ImapAppendsOptions {
  /** The target store (withDryRun's proxy for a dry run). */
  readonly store: MailStore;
  /** Pair with what the target holds: the folder is listed by identity when first opened. */
  readonly skipExisting: boolean;
  /** Messages per MULTIAPPEND. Default 100. */
  readonly batchMessages?: number;
  /** Reconnects in a row per folder before its trouble stops the run. Default 6. */
  readonly retries?: number;
  readonly retryBaseMs?: number;
  /** The least wait before a folder whose appends lost their answers is listed again. Default 1 s (see settleUnknown). */
  readonly settleDelayMs?: number;
  readonly signal?: AbortSignal;
  readonly logger: Logger;
  readonly onCopied?: (bytes: number) => void;
}

/** A message on its way: what the ledger pairs it by, where it is counted, and who learns its UID. */
export interface Outgoing {
  readonly key: string;
  readonly name: string;
  readonly report: FolderCopyReport;
  readonly message: IncomingMessage;
  readonly noteUid: (uid: number) => void;
}

export interface TargetFolder {
  readonly path: MailboxPath;
  /** Open while this is the folder being written. */
  box: Mailbox | undefined;
  readonly ledger: ClaimLedger;
  slots: number;
  readonly inFlight: Set<Promise<void>>;
  batch: Outgoing[];
  batchBytes: number;
  /** Appends whose answer was lost: settled against a new listing before anything else goes out. */
  unknown: Outgoing[];
  lastError?: MailshiftError;
  readonly reports: Set<FolderCopyReport>;
}

const batchMaxBytes = 2 * 1024 * 1024;
/** The least wait before a folder whose appends lost their answers is listed again (see settleUnknown). */
const settleDelayMs = 1_000;

export class ImapAppends {
  private readonly targets = new Map<MailboxPath, Promise<TargetFolder>>();
  /** The one target folder open now. */
  private current: TargetFolder | undefined;
  private failure: { error: unknown } | undefined;

  constructor(private readonly options: ImapAppendsOptions) {}

  /** Queues a message for its folder's next MULTIAPPEND (opening the folder first, if another was open). */
  async add(target: TargetFolder, outgoing: Outgoing): Promise<void> {
    await this.boxOf(target);
    target.batch.push(outgoing);
    target.batchBytes += outgoing.message.content.length;
    if (target.batch.length >= (this.options.batchMessages ?? 100) || target.batchBytes >= batchMaxBytes) await this.dispatch(target);
  }

  /** Every append of the open folder sent, answered and settled. */
  async flush(): Promise<void> {
    if (this.current?.box) await this.drain(this.current);
    this.raiseFailure();
  }

  /**
   * Closes the open folder. `sendPending` (the restore ended, or the archive broke): what is batched still goes out,
   * so everything read whole is on the target; otherwise (interrupted) only the appends in flight are waited for.
   */
  async close(options: { readonly sendPending: boolean }): Promise<void> {
    const target = this.current;
    if (!target?.box) return;
    try {
      if (options.sendPending && !this.failure) await this.drain(target);
      else await Promise.all(target.inFlight);
    } finally {
      const box = target.box;
      target.box = undefined;
      await box?.[Symbol.asyncDispose]();
    }
  }

  /** A target folder, opened (created when missing) and listed by identity the first time it is met. */
  open(path: MailboxPath): Promise<TargetFolder> {
    let opening = this.targets.get(path);
    if (!opening) {
      opening = (async () => {
        const target: TargetFolder = { path, box: undefined, ledger: new ClaimLedger(), slots: 1, inFlight: new Set(), batch: [], batchBytes: 0, unknown: [], reports: new Set() };
        const box = await this.boxOf(target);
        target.slots = Math.max(1, box.appendSlots ?? 1);
        if (this.options.skipExisting) target.ledger.relist(await this.retrying(`listing "${path}"`, () => this.listTarget(box)));
        return target;
      })();
      opening.catch(() => this.targets.delete(path));
      this.targets.set(path, opening);
    }
    return opening;
  }

  /**
   * The folder's mailbox, open. One folder at a time: an open mailbox holds one of the store's few connections (two
   * by default), and the archive brings a folder's messages together, so the previous folder is finished (every
   * append answered) and closed first. Its ledger stays: only this run writes to it meanwhile.
   */
  async boxOf(target: TargetFolder): Promise<Mailbox> {
    if (target.box) return target.box;
    const previous = this.current;
    if (previous && previous !== target && previous.box) {
      await this.drain(previous);
      const box = previous.box;
      previous.box = undefined;
      await box[Symbol.asyncDispose]();
    }
    target.box = await this.retrying(`opening "${target.path}"`, () => this.options.store.openMailbox(target.path, 'write'));
    this.current = target;
    return target.box;
  }

  /** The target folder's messages by claim key (identity, and content for those without Message-ID). */
  async listTarget(box: Mailbox): Promise<{ key: string; uid: number | undefined }[]> {
    const { signal } = this.options;
    const abort = signal ?? new AbortController().signal;
    const listed: { key: string; uid: number | undefined }[] = [];
    for await (const ref of box.list(signal, { headerFields: identityHeaderFields })) {
      const identity = buildIdentity(ref.headers ?? (await readHead(box, ref, abort)));
      // Rare (no Message-ID): confirmed by content, as the messages engine confirms such matches.
      const hash = identity.isWeak ? buildContentHash(await readAll(await box.read(ref, signal))) : undefined;
      listed.push({ key: buildClaimKey(identity, hash), uid: ref.uid });
    }
    return listed;
  }

  /** Sends the folder's batch once a slot is free (back-pressure: the archive waits), after settling lost answers. */
  private async dispatch(target: TargetFolder): Promise<void> {
    while (target.inFlight.size >= target.slots) await Promise.race(target.inFlight);
    if (target.unknown.length > 0) await this.settleUnknown(target);
    this.raiseFailure();
    if (target.batch.length === 0) return;
    const batch = target.batch;
    target.batch = [];
    target.batchBytes = 0;
    const task: Promise<void> = this.send(target, batch).finally(() => target.inFlight.delete(task));
    target.inFlight.add(task);
  }

  /** One MULTIAPPEND (or APPEND); never rejects: what failed is skipped, kept for settling, or stops the run. */
  private async send(target: TargetFolder, batch: readonly Outgoing[]): Promise<void> {
    try {
      // Sent only while the folder is the open one: boxOf finishes a folder's appends before it closes it.
      const box = target.box!;
      const uids = await this.refusalsRetried(target, () =>
        batch.length > 1 && box.appendMany ? box.appendMany(batch.map((each) => each.message), this.options.signal) : box.append(batch[0]!.message, this.options.signal).then((ref) => [ref.uid]),
      );
      batch.forEach((each, i) => this.confirm(target, each, uids ? uids[i] : undefined));
    } catch (err) {
      if (isMailshiftError(err) && err.scope === 'message') {
        // A MULTIAPPEND is all or nothing: one refused message refused the lot, so each goes again on its own.
        if (batch.length > 1) {
          for (const each of batch) await this.send(target, [each]);
          return;
        }
        const [only] = batch;
        only!.report.skipped.push({ id: only!.name, reason: err.message });
        this.options.logger.warn(`${only!.report.source}: ${only!.name} not appended: ${err.message}`);
        return;
      }
      if (isMailshiftError(err) && err.retry === 'later' && err.scope !== 'run' && !this.options.signal?.aborted) {
        target.unknown.push(...batch);
        target.lastError = err;
        return;
      }
      this.failure ??= { error: err };
    }
  }

  private confirm(target: TargetFolder, each: Outgoing, uid: number | undefined): void {
    target.ledger.confirmAppended(each.key);
    if (uid !== undefined) each.noteUid(uid);
    each.report.copied += 1;
    each.report.copiedBytes += each.message.content.length;
    this.options.onCopied?.(each.message.content.length);
  }

  /**
   * Appends whose outcome is unknown (the connection broke under them): once nothing else is in flight, the folder is
   * listed again (over a new connection) and each of them is decided against what no message of this run accounts
   * for; only those not found go out again. Up to `retries` times in a row, with the back-off the engine uses.
   */
  private async settleUnknown(target: TargetFolder): Promise<void> {
    const retries = this.options.retries ?? 6;
    for (let attempt = 1; target.unknown.length > 0; attempt += 1) {
      await Promise.all(target.inFlight);
      const error = target.lastError!;
      if (attempt > retries) throw error;
      for (const report of target.reports) report.retries += 1;
      // An APPEND the server had whole when the connection broke may still be committing on its side: listed too
      // soon, it is missing, is sent again, and lands twice. Seen against Dovecot with a 10 ms back-off; a second
      // leaves it time to finish (the production back-off starts at 2 s anyway).
      const delayMs = Math.max(this.options.settleDelayMs ?? settleDelayMs, decideBackoffMs(attempt, this.options.retryBaseMs ?? 2_000, 300_000, retryAfterMs(error)));
      this.options.logger.warn(`${target.path}: ${error.message}; listing the folder again in ${(delayMs / 1000).toFixed(1)} s to see which appends arrived (${attempt}/${retries})`);
      await sleep(delayMs, this.options.signal);
      let listing: { key: string; uid: number | undefined }[];
      try {
        listing = await this.listTarget(target.box!);
      } catch (err) {
        if (!isMailshiftError(err) || err.retry !== 'later') throw err;
        target.lastError = err;
        continue;
      }
      target.ledger.relist(listing);
      const unknown = target.unknown;
      target.unknown = [];
      const again: Outgoing[] = [];
      for (const each of unknown) {
        const settled = this.options.skipExisting ? target.ledger.settleUnknown(each.key) : ({ outcome: 'resend' } as const);
        if (settled.outcome === 'landed') {
          if (settled.uid !== undefined) each.noteUid(settled.uid);
          each.report.copied += 1;
          each.report.copiedBytes += each.message.content.length;
          this.options.onCopied?.(each.message.content.length);
        } else again.push(each);
      }
      if (again.length > 0) await this.send(target, again);
      this.raiseFailure();
    }
  }

  /** A transient refusal (NO [UNAVAILABLE], [THROTTLED]) stored nothing: sent again after a back-off. */
  private refusalsRetried<T>(target: TargetFolder, operation: () => Promise<T>): Promise<T> {
    return this.retrying(`appending to "${target.path}"`, operation, (err) => {
      const isRefused = (err as { isRefused?: unknown }).isRefused === true;
      if (isRefused) for (const report of target.reports) report.retries += 1;
      return isRefused;
    });
  }

  /** Sends what is batched for the folder and waits until every append of it is answered and settled. */
  async drain(target: TargetFolder): Promise<void> {
    await this.dispatch(target);
    await Promise.all(target.inFlight);
    if (target.unknown.length > 0) await this.settleUnknown(target);
    this.raiseFailure();
  }

  raiseFailure(): void {
    if (this.failure) throw this.failure.error;
  }

  /** `step` again after a transient failure (and, with `isSafe`, only those it accepts), with the engine's back-off. */
  async retrying<T>(what: string, step: () => Promise<T>, isSafe: (err: MailshiftError) => boolean = () => true): Promise<T> {
    const retries = this.options.retries ?? 6;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await step();
      } catch (err) {
        if (!isMailshiftError(err) || err.retry !== 'later' || err.scope === 'run' || this.options.signal?.aborted || attempt > retries || !isSafe(err)) throw err;
        const delayMs = decideBackoffMs(attempt, this.options.retryBaseMs ?? 2_000, 300_000, retryAfterMs(err));
        this.options.logger.warn(`${what}: ${err.message}; retrying in ${(delayMs / 1000).toFixed(1)} s (${attempt}/${retries})`);
        await sleep(delayMs, this.options.signal);
      }
    }
  }
}
