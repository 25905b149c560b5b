import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { systemErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

/**
 * Per-folder incremental state of a store-to-store copy: the source folder's UIDVALIDITY and a watermark UID such that
 * every source message with a UID at or below it is known to be on the target. The next run fetches only UIDs above
 * the watermark. When the UIDVALIDITY differs, the state of that folder is worthless (the UIDs name other messages or
 * were renumbered) and the engine falls back to identity matching, which copies nothing twice.
 *
 * The watermark only moves over a run of messages that are all done: a message that failed or was skipped keeps it
 * below itself, so it is looked at again next time (identity matching makes that harmless for the ones after it).
 *
 * Crash safety: the file is replaced atomically (write a temp file in the same directory, fsync, rename, fsync the
 * directory), so a kill -9 leaves either the old or the new state, never a torn one. State saved a little late only
 * costs a re-check by identity, never a duplicate; state saved early would lose mail, so the engine saves a watermark
 * only once the target has everything below it in place (Mailbox.checkpoint: a maildir writes behind its appends).
 */

export interface FolderState {
  readonly uidValidity: number;
  readonly highestUid: number;
}

/**
 * Where an IMAP target put what we copied (UIDPLUS APPENDUID, or found by identity once): the target folder's
 * UIDVALIDITY and runs of [first source UID, first target UID, length], consecutive appends making one run.
 */
interface TargetUidRecord {
  readonly uidValidity: number;
  readonly runs: readonly (readonly [number, number, number])[];
}

interface StoredFolder extends FolderState {
  readonly updatedAt: string;
  readonly targetUids?: TargetUidRecord;
  /** The source folder's HIGHESTMODSEQ when `resync --flags` last read its flags (CONDSTORE): later changes are above it. */
  readonly flagsModseq?: number;
}

interface StateDocument {
  readonly version: 1;
  /** Which pair of stores this is about, for people reading the file. */
  readonly pair: string;
  folders: Record<string, StoredFolder>;
}

/** A folder's map from source UID to target UID, for one target UIDVALIDITY. */
export interface TargetUidMap {
  readonly uidValidity: number;
  get(sourceUid: number): number | undefined;
  /** The target UIDs already taken by some source message. */
  targetUids(): Iterable<number>;
}

export function defaultStateDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_STATE_HOME && path.isAbsolute(env.XDG_STATE_HOME) ? env.XDG_STATE_HOME : path.join(homedir(), '.local', 'state');
  return path.join(base, 'mailshift', 'sync');
}

/** One file per pair of stores: runs for different accounts never contend for one file. */
export function stateFileFor(dir: string, pair: string): string {
  return path.join(dir, `${createHash('sha256').update(pair).digest('hex').slice(0, 24)}.json`);
}

/** The key of one folder pair inside a state file: the mapping can change between runs, and then the state must not apply. */
export function folderStateKey(sourceFolder: string, targetFolder: string): string {
  return `${sourceFolder}\u0000${targetFolder}`;
}

/** One folder's saved state as `mailshift state show` lists it. */
export interface FolderStateEntry extends FolderState {
  readonly sourceFolder: string;
  readonly targetFolder: string;
  readonly updatedAt: string;
}

export class SyncStateFile {
  private saving: Promise<void> = Promise.resolve();
  private isDirty = false;
  /** Target UID maps by folder key, unpacked from their runs when first used. */
  private readonly targetUidMaps = new Map<string, { uidValidity: number; bySource: Map<number, number> }>();

  private constructor(
    readonly file: string,
    private readonly document: StateDocument,
  ) {}

  /** Loads the state of `pair` from `file`; a missing file is an empty state, an unreadable one is logged and ignored. */
  static async load(file: string, pair: string, logger: Logger): Promise<SyncStateFile> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (systemErrorCode(err) === 'ENOENT') return new SyncStateFile(file, { version: 1, pair, folders: {} });
      throw err;
    }
    const parsed = parseStateDocument(text);
    if (!parsed || parsed.pair !== pair) {
      logger.warn(`ignoring the state file ${file}: ${parsed ? `it belongs to ${parsed.pair}` : 'it is not a mailshift state file'}; every folder is compared by message identity instead`);
      return new SyncStateFile(file, { version: 1, pair, folders: {} });
    }
    return new SyncStateFile(file, parsed);
  }

  /** Every folder pair with saved state, sorted by source folder. */
  entries(): FolderStateEntry[] {
    return Object.entries(this.document.folders)
      .map(([key, entry]) => {
        const at = key.indexOf('\u0000');
        return { sourceFolder: at < 0 ? key : key.slice(0, at), targetFolder: at < 0 ? '' : key.slice(at + 1), uidValidity: entry.uidValidity, highestUid: entry.highestUid, updatedAt: entry.updatedAt };
      })
      .sort((a, b) => (a.sourceFolder < b.sourceFolder ? -1 : a.sourceFolder > b.sourceFolder ? 1 : 0));
  }

  get(key: string): FolderState | undefined {
    const entry = this.document.folders[key];
    return entry ? { uidValidity: entry.uidValidity, highestUid: entry.highestUid } : undefined;
  }

  /** A new watermark; the target UID map stays while the source's UIDVALIDITY does (its UIDs still name the same messages). */
  set(key: string, state: FolderState): void {
    const current = this.document.folders[key];
    if (current && current.uidValidity === state.uidValidity && current.highestUid === state.highestUid) return;
    const isRenumbered = current !== undefined && current.uidValidity !== state.uidValidity;
    if (isRenumbered) this.targetUidMaps.delete(key);
    const kept = isRenumbered ? undefined : current?.targetUids;
    const keptModseq = isRenumbered ? undefined : current?.flagsModseq;
    this.document.folders[key] = { ...state, updatedAt: new Date().toISOString(), ...(kept ? { targetUids: kept } : {}), ...(keptModseq !== undefined ? { flagsModseq: keptModseq } : {}) };
    this.isDirty = true;
  }

  /** The source's mod-sequence when the folder's flags were last brought over (`resync --flags`), if it has one. */
  flagsModseq(key: string): number | undefined {
    return this.document.folders[key]?.flagsModseq;
  }

  /** Flags brought over up to this source mod-sequence; kept with the folder's watermark (none saved yet: ignored). */
  setFlagsModseq(key: string, modseq: number): void {
    const folder = this.document.folders[key];
    if (!folder || folder.flagsModseq === modseq) return;
    this.document.folders[key] = { ...folder, flagsModseq: modseq };
    this.isDirty = true;
  }

  delete(key: string): void {
    this.targetUidMaps.delete(key);
    if (!(key in this.document.folders)) return;
    delete this.document.folders[key];
    this.isDirty = true;
  }

  /** Where the target put the source message `sourceUid`; a map of another target UIDVALIDITY is replaced. */
  recordTargetUid(key: string, targetUidValidity: number, sourceUid: number, targetUid: number): void {
    let map = this.unpackTargetUids(key);
    if (!map || map.uidValidity !== targetUidValidity) {
      map = { uidValidity: targetUidValidity, bySource: new Map() };
      this.targetUidMaps.set(key, map);
    }
    if (map.bySource.get(sourceUid) === targetUid) return;
    map.bySource.set(sourceUid, targetUid);
    this.isDirty = true;
  }

  /** The folder's source-to-target UID map, if one was kept. */
  targetUidMap(key: string): TargetUidMap | undefined {
    const map = this.unpackTargetUids(key);
    if (!map) return undefined;
    return { uidValidity: map.uidValidity, get: (sourceUid) => map.bySource.get(sourceUid), targetUids: () => map.bySource.values() };
  }

  private unpackTargetUids(key: string): { uidValidity: number; bySource: Map<number, number> } | undefined {
    const unpacked = this.targetUidMaps.get(key);
    if (unpacked) return unpacked;
    const stored = this.document.folders[key]?.targetUids;
    if (!stored) return undefined;
    const bySource = new Map<number, number>();
    for (const [source, target, length] of stored.runs) for (let i = 0; i < length; i += 1) bySource.set(source + i, target + i);
    const map = { uidValidity: stored.uidValidity, bySource };
    this.targetUidMaps.set(key, map);
    return map;
  }

  /** Writes the state if it changed. Saves are serialised: the last one wins, and none is torn. */
  save(): Promise<void> {
    if (!this.isDirty) return this.saving;
    this.isDirty = false;
    for (const [key, map] of this.targetUidMaps) {
      const folder = this.document.folders[key];
      // A map is kept with its folder's watermark: without one (nothing saved yet) it waits for the first.
      if (folder) this.document.folders[key] = { ...folder, targetUids: { uidValidity: map.uidValidity, runs: packRuns(map.bySource) } };
    }
    const text = `${JSON.stringify(this.document, null, 2)}\n`;
    this.saving = this.saving.then(() => writeFileAtomically(this.file, text));
    return this.saving;
  }
}

function parseStateDocument(text: string): StateDocument | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (record.version !== 1 || typeof record.pair !== 'string' || typeof record.folders !== 'object' || record.folders === null) return undefined;
  const folders: StateDocument['folders'] = {};
  for (const [key, entry] of Object.entries(record.folders as Record<string, unknown>)) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { uidValidity, highestUid, updatedAt, targetUids, flagsModseq } = entry as Record<string, unknown>;
    if (!isUint32(uidValidity) || !isUint32(highestUid)) continue;
    const map = parseTargetUids(targetUids);
    const modseq = typeof flagsModseq === 'number' && Number.isSafeInteger(flagsModseq) && flagsModseq > 0 ? flagsModseq : undefined;
    folders[key] = { uidValidity, highestUid, updatedAt: typeof updatedAt === 'string' ? updatedAt : '', ...(map ? { targetUids: map } : {}), ...(modseq !== undefined ? { flagsModseq: modseq } : {}) };
  }
  return { version: 1, pair: record.pair, folders };
}

/** A stored target UID map; anything malformed is dropped (the engine then finds the messages by identity again). */
function parseTargetUids(value: unknown): TargetUidRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { uidValidity, runs } = value as Record<string, unknown>;
  if (!isUint32(uidValidity) || !Array.isArray(runs)) return undefined;
  const parsed: [number, number, number][] = [];
  for (const run of runs) {
    if (!Array.isArray(run) || run.length !== 3) return undefined;
    const [source, target, length] = run as unknown[];
    if (!isUint32(source) || !isUint32(target) || !isUint32(length)) return undefined;
    parsed.push([source, target, length]);
  }
  return { uidValidity, runs: parsed };
}

/** Source-to-target pairs as runs where both sides count up together (a copy in order makes few runs). */
export function packRuns(bySource: ReadonlyMap<number, number>): [number, number, number][] {
  const runs: [number, number, number][] = [];
  for (const [source, target] of [...bySource].sort((a, b) => a[0] - b[0])) {
    const last = runs.at(-1);
    if (last && last[0] + last[2] === source && last[1] + last[2] === target) last[2] += 1;
    else runs.push([source, target, 1]);
  }
  return runs;
}

function isUint32(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

export async function writeFileAtomically(file: string, text: string): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
