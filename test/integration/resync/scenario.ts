import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Generated maildirs for the resync tests: a source with folders, keywords and flags; helpers that mutate it the way
 * a live server does after a copy (deliveries, flag renames, new/ -> cur/ moves, a new folder), deliver one message
 * to both servers, and read a tree back by base name and by Message-ID.
 */

let counter = 0;

export function messageText(id: string, options: { received?: string; body?: string } = {}): string {
  return [
    ...(options.received ? [`Received: ${options.received}`] : []),
    `Message-ID: <${id}@mailshift.test>`,
    'From: Alice <alice@example.com>',
    'To: Bob <bob@example.com>',
    `Subject: message ${id}`,
    'Date: Mon, 1 Jan 2024 10:00:00 +0000',
    '',
    options.body ?? `Body of ${id}.`,
    '',
  ].join('\n');
}

/** A unique maildir base name, shaped like Dovecot's, with S= size. */
export function baseName(text: string, host = 'old.example'): string {
  counter += 1;
  const secs = 1_700_000_000 + counter;
  return `${secs}.M${counter}P${process.pid}.${host},S=${Buffer.byteLength(text)}`;
}

export async function deliver(root: string, folderDir: string, id: string, options: { sub?: 'new' | 'cur'; info?: string; host?: string; received?: string } = {}): Promise<string> {
  const text = messageText(id, options.received ? { received: options.received } : {});
  const base = baseName(text, options.host);
  const sub = options.sub ?? (options.info === undefined ? 'new' : 'cur');
  const name = options.info === undefined ? base : `${base}:2,${options.info}`;
  const dir = path.join(root, folderDir, sub);
  await mkdir(dir, { recursive: true });
  // Through tmp/ then rename, as a delivery agent does: a watcher never sees a half-written file.
  const tmp = path.join(root, folderDir, 'tmp');
  await mkdir(tmp, { recursive: true });
  await writeFile(path.join(tmp, name), text);
  const mtime = 1_700_000_000 + counter;
  await utimes(path.join(tmp, name), mtime, mtime);
  await rename(path.join(tmp, name), path.join(dir, name));
  return `${sub}/${name}`;
}

export async function makeFolder(root: string, folderDir: string): Promise<void> {
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(root, folderDir, sub), { recursive: true });
  if (folderDir !== '') await writeFile(path.join(root, folderDir, 'maildirfolder'), '');
}

/** Source maildir: INBOX (new and read mail, keywords), Sent, Work.Projects (own keyword table). */
export async function buildSource(root: string): Promise<void> {
  await makeFolder(root, '');
  await makeFolder(root, '.Sent');
  await makeFolder(root, '.Work.Projects');
  await writeFile(path.join(root, 'dovecot-keywords'), '0 $Junk\n1 Important\n');
  await writeFile(path.join(root, '.Work.Projects', 'dovecot-keywords'), '0 Important\n1 ClientA\n');
  for (let i = 0; i < 20; i++) await deliver(root, '', `inbox-read-${i}`, { info: i % 3 === 0 ? 'RS' : 'S' });
  for (let i = 0; i < 10; i++) await deliver(root, '', `inbox-new-${i}`);
  for (let i = 0; i < 5; i++) await deliver(root, '', `inbox-kw-${i}`, { info: 'Sb' });
  for (let i = 0; i < 10; i++) await deliver(root, '.Sent', `sent-${i}`, { info: 'S' });
  for (let i = 0; i < 8; i++) await deliver(root, '.Work.Projects', `work-${i}`, { info: i % 2 ? 'Sab' : 'S' });
}

/** Renames a file to other flags (a client on the old server marked it). Returns the new relative path. */
export async function setFlags(root: string, rel: string, info: string): Promise<string> {
  const dir = path.dirname(path.dirname(rel));
  const name = path.basename(rel);
  const base = name.split(':')[0]!;
  const to = path.join(dir, 'cur', `${base}:2,${info}`);
  await rename(path.join(root, rel), path.join(root, to));
  return to;
}

export interface FolderContent {
  /** base name -> file name */
  readonly byBase: Map<string, string>;
  /** Message-ID -> how many files carry it */
  readonly byMessageId: Map<string, number>;
  /** base names seen twice */
  readonly duplicateBases: string[];
  readonly sha256ByBase: Map<string, string>;
}

/** Reads every folder of a Maildir++ tree: by base name and by Message-ID. */
export async function readTree(root: string): Promise<Map<string, FolderContent>> {
  const out = new Map<string, FolderContent>();
  const folders = [''];
  for (const entry of await readdir(root, { withFileTypes: true })) if (entry.isDirectory() && entry.name.startsWith('.')) folders.push(entry.name);
  for (const folder of folders) {
    const content: FolderContent = { byBase: new Map(), byMessageId: new Map(), duplicateBases: [], sha256ByBase: new Map() };
    for (const sub of ['new', 'cur']) {
      let names: string[] = [];
      try {
        names = await readdir(path.join(root, folder, sub));
      } catch {
        continue;
      }
      for (const name of names) {
        if (name.startsWith('.')) continue;
        const base = name.split(':')[0]!;
        if (content.byBase.has(base)) content.duplicateBases.push(base);
        content.byBase.set(base, `${sub}/${name}`);
        const bytes = await readFile(path.join(root, folder, sub, name));
        content.sha256ByBase.set(base, createHash('sha256').update(bytes).digest('hex'));
        const id = /^message-id:\s*(.+)$/im.exec(bytes.toString('latin1').split(/\r?\n\r?\n/)[0] ?? '')?.[1]?.trim() ?? '';
        content.byMessageId.set(id, (content.byMessageId.get(id) ?? 0) + 1);
      }
    }
    out.set(folder, content);
  }
  return out;
}
