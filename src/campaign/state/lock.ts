import { constants as fsConstants } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { MailshiftError, systemErrorCode } from '../../core/errors.js';
import { ExitCode } from '../../core/exit-codes.js';
import { isProcessAlive } from '../../core/process-alive.js';

/**
 * One campaign process per campaign directory: two would run the same accounts at once. The lock is a file created
 * with O_EXCL, holding who took it (pid, host, start time, command); a second process refuses and names the first.
 * A lock left by a process that died (kill -9, a reboot) is taken over when it names this host and its pid is gone;
 * on another host (a shared file system) it cannot be checked, and the message says which file to delete.
 */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
  readonly command: string;
}

export interface CampaignLock {
  readonly file: string;
  release(): Promise<void>;
}

export async function takeCampaignLock(directory: string, command: string, isAlive: (pid: number) => boolean = isProcessAlive): Promise<CampaignLock> {
  const file = path.join(directory, 'campaign.lock');
  const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), command };
  for (let attempt = 0; attempt < 2; attempt++) {
    if (await tryCreate(file, me)) return { file, release: () => rm(file, { force: true }) };
    const holder = await readHolder(file);
    if (!holder && (await isRecent(file))) {
      // Created a moment ago and not written yet: another process is taking the lock right now.
      throw new MailshiftError('MAILSHIFT_CAMPAIGN_LOCKED', `the campaign in ${directory} is being started by another mailshift (${file} was just created)`, { hint: 'run again in a moment', retry: 'later' });
    }
    if (holder && (holder.host !== me.host || isAlive(holder.pid))) {
      throw new MailshiftError('MAILSHIFT_CAMPAIGN_LOCKED', `the campaign in ${directory} is being run by another mailshift: pid ${holder.pid} on ${holder.host}, since ${holder.startedAt} (${holder.command})`, {
        hint: holder.host === me.host ? 'wait for it to finish, or stop it (Ctrl-C) and run again' : `if that process is gone, delete ${file} and run again`,
        retry: 'later',
      });
    }
    // Stale (its process is gone) or unreadable (a crash while it was written): moved aside, never just deleted, so
    // two processes taking over at once cannot both win; the loser's O_EXCL create fails and it refuses.
    await rename(file, `${file}.stale-${process.pid}`).catch(() => undefined);
    await rm(`${file}.stale-${process.pid}`, { force: true });
  }
  throw new MailshiftError('MAILSHIFT_CAMPAIGN_LOCKED', `the campaign in ${directory} was locked by another mailshift while this one started`, { hint: 'run again in a moment', retry: 'later' });
}

async function tryCreate(file: string, me: LockHolder): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o644);
  } catch (err) {
    if (systemErrorCode(err) === 'EEXIST') return false;
    throw new MailshiftError('MAILSHIFT_CAMPAIGN_STATE', `cannot create the campaign lock ${file}: ${systemErrorCode(err) ?? String(err)}`, { cause: err, exitCode: ExitCode.config });
  }
  try {
    await handle.writeFile(`${JSON.stringify(me)}\n`);
  } finally {
    await handle.close();
  }
  return true;
}

async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number' || typeof parsed.host !== 'string') return undefined;
    return { pid: parsed.pid, host: parsed.host, startedAt: String(parsed.startedAt ?? '?'), command: String(parsed.command ?? '?') };
  } catch {
    return undefined;
  }
}

async function isRecent(file: string): Promise<boolean> {
  try {
    return Date.now() - (await stat(file)).mtimeMs < 30_000;
  } catch {
    return false;
  }
}
