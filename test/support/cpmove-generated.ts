import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tarStream from 'tar-stream';

/**
 * A generated cPanel backup of one mailbox (alice@example.com) with as many messages as a test asks for, written
 * by tar-stream in cpmove's layout, for the restores that need volume (a run killed part way, a truncated archive,
 * memory against the number of messages) rather than the variety of the fixture tree (cpmove.ts):
 *
 * - INBOX (cur/) holds `count` distinct messages; every 10th is flagged and carries keyword letter `a`, and two
 *   more are byte-for-byte twins under two names (identical messages, to be counted, never collapsed);
 * - `.Work` holds `workCount` messages, and its own dovecot-keywords before them;
 * - INBOX's dovecot-keywords (`0 $Important`) comes after every INBOX message, as GNU tar's name order puts it
 *   after cur/: the keyword names arrive after the messages that use them.
 */

export interface GeneratedBackup {
  /** Message-ID local part -> how many copies the mailbox holds. */
  readonly counts: ReadonlyMap<string, number>;
  /** The Message-IDs that carry $Important. */
  readonly important: readonly string[];
  readonly messages: number;
}

export interface GenerateOptions {
  readonly count: number;
  readonly workCount?: number;
  readonly gzip: boolean;
  /** Body bytes per message (default about 60). */
  readonly bodyBytes?: number;
}

const alice = 'cpmove-bob/homedir/mail/example.com/alice';

function generatedMessage(id: string, bodyBytes: number): string {
  const body = `body of ${id}\n${'x'.repeat(Math.max(0, bodyBytes - 40))}\n`;
  return `Message-ID: <${id}@example.com>\nFrom: a@example.com\nTo: alice@example.com\nSubject: generated ${id}\nDate: Tue, 14 Nov 2023 22:13:20 +0000\n\n${body}`;
}

export async function writeGeneratedBackup(file: string, options: GenerateOptions): Promise<GeneratedBackup> {
  const pack = tarStream.pack();
  const done = options.gzip ? pipeline(pack, createGzip(), createWriteStream(file)) : pipeline(pack, createWriteStream(file));
  const counts = new Map<string, number>();
  const important: string[] = [];
  const bodyBytes = options.bodyBytes ?? 60;
  const add = (name: string, content: string | undefined, mtimeSec: number) =>
    new Promise<void>((resolve, reject) => {
      const header = { name, mode: content === undefined ? 0o700 : 0o600, mtime: new Date(mtimeSec * 1000), type: content === undefined ? ('directory' as const) : ('file' as const) };
      pack.entry(header, content ?? '', (err) => (err ? reject(err) : resolve()));
    });
  const message = async (dir: string, id: string, n: number, info: string) => {
    const content = generatedMessage(id, bodyBytes);
    await add(`${dir}/cur/${1700000000 + n}.M${n}P1.mail.example.com,S=${Buffer.byteLength(content)}:2,${info}`, content, 1700000000 + n);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  };
  for (const dir of [alice, `${alice}/cur`, `${alice}/new`, `${alice}/tmp`]) await add(dir, undefined, 1700000000);
  for (let i = 0; i < options.count; i += 1) {
    const isImportant = i % 10 === 0;
    if (isImportant) important.push(`g${i}`);
    await message(alice, `g${i}`, i, isImportant ? 'FSa' : 'S');
  }
  // Two files, one message: the same bytes under two names.
  await message(alice, 'twin', options.count, 'S');
  await message(alice, 'twin', options.count + 1, 'S');
  await add(`${alice}/dovecot-keywords`, '0 $Important\n', 1700000000);
  const work = `${alice}/.Work`;
  for (const dir of [work, `${work}/cur`, `${work}/new`, `${work}/tmp`]) await add(dir, undefined, 1700000000);
  await add(`${work}/dovecot-keywords`, '0 project\n', 1700000000);
  await add(`${work}/maildirfolder`, '', 1700000000);
  for (let i = 0; i < (options.workCount ?? 0); i += 1) await message(work, `w${i}`, options.count + 2 + i, 'Sa');
  pack.finalize();
  await done;
  return { counts, important, messages: [...counts.values()].reduce((sum, n) => sum + n, 0) };
}
