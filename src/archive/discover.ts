import { constants as fsConstants } from 'node:fs';
import { link, mkdir, mkdtemp, open, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { MailshiftError, systemErrorCode } from '../core/errors.js';
import { parseCpuserFile } from '../cpanel/files.js';
import { buildDiscoverDocument, type DiscoverDocument } from '../discover/document.js';
import { runDiscover, type DiscoverOptions } from '../discover/run.js';
import type { DiscoverWarning } from '../discover/warnings.js';
import { MaildirTreeWriter } from './maildir-writer.js';
import { classifyMailPath, classifyMember, parseBackupFileName, parseEntryName, topDirOf } from './names.js';
import { readBackupEntries, type BackupSource } from './source.js';
import type { ArchiveEntry, EntryBody } from './tar.js';

/**
 * `mailshift discover BACKUP`: the same inventory as for a live server, by the same code. One pass over the archive
 * lays out its skeleton as a cPanel root in a temporary directory, and discover reads that root:
 *
 *   cpmove-USER/homedir/...  ->  home/USER/...            (nested homedir.tar read inside the stream)
 *   cpmove-USER/cp/USER      ->  var/cpanel/users/USER    (and etc/userdomains from its DNS lines)
 *   cpmove-USER/va|vad|vf/D  ->  etc/valiases|vdomainaliases|vfilters/D
 *
 * Message files become sparse files of their archived size and mtime (no data block is written, so the skeleton of
 * a 20 GB backup takes a few MB: inodes, the small account files); hard links stay hard links and symlinks are
 * recreated as symlinks inside the temporary root so discover reports them as it does on a server (it never
 * follows one). What the archive holds that no server could (names that climb out, devices, sparse entries) is
 * added to the warnings as unsafe. The temporary root is removed before returning.
 */
export async function runArchiveDiscover(source: BackupSource, options: DiscoverOptions = {}): Promise<DiscoverDocument> {
  const archive = source.path;
  const skeleton = await mkdtemp(path.join(tmpdir(), 'mailshift-discover-'));
  try {
    const { user, warnings } = await writeSkeleton(source, skeleton, options.signal);
    const doc = await runDiscover(skeleton, { ...options, users: [user] });
    const all = [...doc.warnings.map((w) => ({ ...w })), ...warnings.map((w) => ({ ...w, account: user }))];
    return buildDiscoverDocument({
      root: archive,
      generatedAt: new Date(doc.generatedAt),
      options: doc.options,
      accounts: doc.accounts,
      warnings: all,
    });
  } finally {
    await rm(skeleton, { recursive: true, force: true });
  }
}

const smallFileBytes = 1024 * 1024;

async function writeSkeleton(source: BackupSource, root: string, signal?: AbortSignal): Promise<{ user: string; warnings: DiscoverWarning[] }> {
  const warnings: DiscoverWarning[] = [];
  // Homes are laid out before the user is known (cp/USER may come last): under a placeholder, renamed at the end.
  let cpuser: { user: string; text: string } | undefined;
  let topDir: string | undefined;
  const unsafe = (entryPath: string, message: string, kind: DiscoverWarning['kind']) =>
    warnings.push({ kind, severity: 'unsafe', account: null, mailbox: null, path: entryPath, message });

  const tree = new MaildirTreeWriter(root, { dryRun: false, dirMode: 0o755 });
  /** Skeleton paths of the regular files laid out (names only), the only things a hard link may point to. */
  const written = new Set<string>();

  const archive = source.path;
  await readBackupEntries(source, async (entry) => {
    if (!entry.nested && topDir === undefined) topDir = topDirOf(entry.name);
    const name = parseEntryName(entry.name, { nested: entry.nested });
    if (!name.ok) {
      unsafe(JSON.stringify(entry.name).slice(1, -1), `${name.refusal}: ${name.detail}; a restore refuses it`, 'unsafe-name');
      return;
    }
    const member = classifyMember(name.parts);
    const memberPath = name.parts.join('/');
    if (member.kind === 'nested-home' && entry.type === 'file') return 'read-nested';
    if (entry.type === 'device' || entry.type === 'fifo' || entry.type === 'unsupported') {
      unsafe(memberPath, `${entry.type === 'unsupported' ? 'sparse or unknown entry type' : entry.type}; a restore refuses it`, 'special-file');
      return;
    }
    if (member.kind === 'cpuser' && entry.type === 'file') {
      cpuser = { user: member.user, text: await readText(entry.body) };
      return;
    }
    const rel =
      member.kind === 'mail' || member.kind === 'home'
        ? path.posix.join(homeRel, ...name.parts.slice(1))
        : member.kind === 'routing'
          ? path.posix.join('etc', member.table, member.domain)
          : undefined;
    if (rel === undefined) return;
    try {
      await placeInSkeleton(tree, root, rel, entry, member.kind === 'mail' && classifyMailPath(member.rest).kind === 'message', written);
    } catch (err) {
      if (!(err instanceof MailshiftError) || err.code !== 'MAILSHIFT_TARGET_NOT_DIR') throw err;
      unsafe(memberPath, 'lies under a symlink of the backup; a restore never writes through one', 'symlink-inside-account');
    }
  }, signal);

  const user = cpuser?.user ?? (topDir ? parseBackupFileName(topDir) : undefined) ?? parseBackupFileName(archive);
  if (!user) {
    throw new MailshiftError('MAILSHIFT_DISCOVER_NOT_CPANEL', `${archive} names no cPanel account: no cp/USER file, and neither its top directory nor its file name is cpmove-USER`, {
      hint: 'give a cPanel backup (cpmove-USER.tar.gz, USER.tar.gz, backup-DATE_USER.tar.gz)',
    });
  }
  await mkdir(path.join(root, 'home'), { recursive: true });
  await renameHome(root, homeRel, `home/${user}`);
  await mkdir(path.join(root, 'var/cpanel/users'), { recursive: true });
  const cpText = cpuser?.text ?? `USER=${user}\n`;
  await writeFile(path.join(root, 'var/cpanel/users', user), cpText);
  const domains = parseCpuserFile(cpText).domains;
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await writeFile(path.join(root, 'etc/userdomains'), domains.map((d) => `${d}: ${user}\n`).join(''));
  await writeFile(path.join(root, 'etc/passwd'), `${user}:x:1000:1000::/home/${user}:/bin/bash\n`);
  return { user, warnings };
}

async function placeInSkeleton(tree: MaildirTreeWriter, root: string, rel: string, entry: ArchiveEntry, isMessage: boolean, written: Set<string>): Promise<void> {
  const dir = path.posix.dirname(rel);
  if (entry.type === 'directory') {
    await tree.ensureDir(rel);
    return;
  }
  await tree.ensureDir(dir);
  const file = path.join(root, rel);
  if (entry.type === 'symlink') {
    await symlink(entry.linkname ?? '', file).catch(ignoreExisting);
    return;
  }
  if (entry.type === 'link') {
    const from = parseEntryName(entry.linkname ?? '', { nested: entry.nested });
    if (!from.ok) return;
    const fromMember = classifyMember(from.parts);
    if (fromMember.kind !== 'mail' && fromMember.kind !== 'home') return;
    // Only to a file this pass wrote: a path through a symlink of the backup could name a file outside the skeleton.
    const fromRel = path.posix.join(homeRel, ...from.parts.slice(1));
    if (written.has(fromRel)) await link(path.join(root, fromRel), file).catch(ignoreExisting);
    return;
  }
  if (entry.type !== 'file') return;
  if (isMessage || entry.size > smallFileBytes) {
    // The size and the date are what discover reads of a message; its bytes are never needed.
    const handle = await open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o644).catch((err: unknown) => {
      if (systemErrorCode(err) === 'EEXIST') return undefined;
      throw err;
    });
    if (!handle) return;
    try {
      await handle.truncate(entry.size);
    } finally {
      await handle.close();
    }
  } else {
    const handle = await open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o644).catch((err: unknown) => {
      if (systemErrorCode(err) === 'EEXIST') return undefined;
      throw err;
    });
    if (!handle) return;
    await pipeline(entry.body, handle.createWriteStream());
  }
  await utimes(file, entry.mtimeSec, entry.mtimeSec);
  written.add(rel);
}

const homeRel = 'home/.archive-home';

async function renameHome(root: string, from: string, to: string): Promise<void> {
  const { rename } = await import('node:fs/promises');
  try {
    await rename(path.join(root, from), path.join(root, to));
  } catch (err) {
    if (systemErrorCode(err) !== 'ENOENT') throw err;
    await mkdir(path.join(root, to), { recursive: true });
  }
}

function ignoreExisting(err: unknown): void {
  if (systemErrorCode(err) !== 'EEXIST') throw err;
}

async function readText(body: EntryBody): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += (chunk as Buffer).length;
    if (length > smallFileBytes) break;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
