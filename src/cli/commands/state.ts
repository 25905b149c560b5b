import { unlink } from 'node:fs/promises';
import type { Command } from 'commander';
import { systemErrorCode, UsageError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import { defaultStateDir, stateFileFor, SyncStateFile, type FolderStateEntry } from '../../engine/state.js';
import { formatSpec, parseStoreSpec, type StoreSpec } from '../../stores/spec.js';
import type { CliContext, GlobalOptions } from '../context.js';
import { formatJson, formatTable } from '../render.js';

/**
 * `mailshift state show|reset SOURCE TARGET`: the incremental state copy, resync and watch keep for an IMAP pair
 * (per folder: UIDVALIDITY and the UID up to which everything is copied). Nothing is connected to: the pair is named
 * exactly as those commands name it, so no password is needed.
 *
 * Reset only forgets: the next run compares every message by identity (nothing is copied twice, and what is missing
 * on the target, deleted there since, is copied again).
 */

interface StateCliOptions {
  stateDir?: string;
  folder: string[];
}

export function registerState(program: Command, ctx: CliContext): void {
  const state = program
    .command('state')
    .description('show or reset the per-folder state that IMAP copies, resyncs and watch rounds keep (UIDVALIDITY and the UID copied up to)');
  const addCommon = (command: Command) =>
    command
      .argument('<source>', 'the SOURCE as given to copy/resync/watch (imap(s)://user@host[:port] or a maildir path)')
      .argument('<target>', 'the TARGET as given to copy/resync/watch')
      .option('--state-dir <dir>', 'where the state is kept (default ~/.local/state/mailshift/sync)')
      .option('--folder <name>', 'only this source folder (mailbox path, e.g. INBOX or Work/Projects), repeatable', (value: string, previous: string[]) => [...previous, value], []);
  addCommon(state.command('show').description('list the saved state of each folder of a pair')).action(async (sourceText: string, targetText: string, _options: StateCliOptions, cmd: Command) => {
    const options = cmd.optsWithGlobals<GlobalOptions & StateCliOptions>();
    const { file, pair, saved } = await loadPairState(ctx, sourceText, targetText, options);
    const folders = selectFolders(saved.entries(), options.folder);
    if (options.json) {
      ctx.out(formatJson({ ok: true, command: 'state', action: 'show', pair, file, folders }));
    } else if (folders.length === 0) {
      ctx.out(`No saved state for ${pair}${options.folder.length > 0 ? ` (${options.folder.join(', ')})` : ''}; the next run compares every message by identity.\nstate file ${file}\n`);
    } else {
      ctx.out(`State of ${pair}\nstate file ${file}\n\n${formatFolders(folders)}`);
    }
    ctx.setExitCode(ExitCode.ok);
  });
  addCommon(state.command('reset').description('forget the saved state of a pair (or of --folder): the next run compares every message by identity')).action(
    async (sourceText: string, targetText: string, _options: StateCliOptions, cmd: Command) => {
      const options = cmd.optsWithGlobals<GlobalOptions & StateCliOptions>();
      const { file, pair, saved } = await loadPairState(ctx, sourceText, targetText, options);
      const folders = selectFolders(saved.entries(), options.folder);
      for (const folder of folders) saved.delete(`${folder.sourceFolder}\u0000${folder.targetFolder}`);
      if (folders.length > 0) {
        if (saved.entries().length === 0) await removeFile(file);
        else await saved.save();
      }
      if (options.json) {
        ctx.out(formatJson({ ok: true, command: 'state', action: 'reset', pair, file, folders }));
      } else {
        ctx.out(
          folders.length === 0
            ? `No saved state for ${pair}${options.folder.length > 0 ? ` (${options.folder.join(', ')})` : ''}: nothing to reset.\n`
            : `Reset the state of ${folders.length} folder(s) of ${pair}: ${folders.map((folder) => folder.sourceFolder).join(', ')}\nThe next run compares every message of those folders by identity: nothing is copied twice.\n`,
        );
      }
      ctx.setExitCode(ExitCode.ok);
    },
  );
}

/** The label copy, resync and watch give an end (an IMAP store names itself without a folder part). */
export function formatStateLabel(spec: StoreSpec): string {
  if (spec.kind !== 'imap') return formatSpec(spec);
  const { mailbox: _folder, ...account } = spec;
  return formatSpec(account);
}

async function loadPairState(ctx: CliContext, sourceText: string, targetText: string, options: StateCliOptions): Promise<{ file: string; pair: string; saved: SyncStateFile }> {
  const source = parseStoreSpec(sourceText);
  const target = parseStoreSpec(targetText);
  if (source.kind !== 'imap' && target.kind !== 'imap') {
    throw new UsageError('only copies with an IMAP end keep a state', 'give the SOURCE and TARGET of an IMAP copy, resync or watch, as you gave them there');
  }
  const pair = `${formatStateLabel(source)} -> ${formatStateLabel(target)}`;
  const file = stateFileFor(options.stateDir ?? defaultStateDir(ctx.env), pair);
  return { file, pair, saved: await SyncStateFile.load(file, pair, ctx.logger()) };
}

function selectFolders(entries: readonly FolderStateEntry[], only: readonly string[]): FolderStateEntry[] {
  return only.length === 0 ? [...entries] : entries.filter((entry) => only.includes(entry.sourceFolder));
}

function formatFolders(folders: readonly FolderStateEntry[]): string {
  return formatTable(
    ['SOURCE FOLDER', 'TARGET FOLDER', 'UIDVALIDITY', 'COPIED UP TO UID', 'UPDATED'],
    folders.map((folder) => [JSON.stringify(folder.sourceFolder).slice(1, -1), JSON.stringify(folder.targetFolder).slice(1, -1), folder.uidValidity, folder.highestUid, folder.updatedAt || '-']),
  );
}

async function removeFile(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (err) {
    if (systemErrorCode(err) !== 'ENOENT') throw err;
  }
}
