import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExport, type ExportSource } from '../../src/archive/export.js';
import { ExitCode } from '../../src/core/exit-codes.js';
import { MemoryMail, MemoryStore } from '../support/memory-store.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';

let tmp: TempDir;
beforeAll(async () => {
  tmp = await makeTempDir('export');
});
afterAll(async () => {
  await tmp.cleanup();
});

async function storeSource(mail: MemoryMail): Promise<ExportSource> {
  return {
    kind: 'store',
    user: 'bob',
    mailbox: { localPart: 'alice', domain: 'example.com' },
    read: { store: new MemoryStore(mail), label: 'memory', folders: { maps: [], excludes: [], skipVirtual: true } },
  };
}

async function mailWith(count: number): Promise<MemoryMail> {
  const mail = new MemoryMail();
  const box = await new MemoryStore(mail).openMailbox('INBOX', 'write');
  for (let i = 0; i < count; i += 1) await box.append({ content: Buffer.from(`Subject: ${i}\n\nbody\n`), flags: new Set(), keywords: new Set() });
  return mail;
}

describe('runExport of an account read through a store', () => {
  it('links the archive into place when every message is in it, and leaves nothing else beside it', async () => {
    const dir = path.join(tmp.path, 'complete');
    await mkdir(dir);
    const report = await runExport(await storeSource(await mailWith(3)), path.join(dir, 'alice.tar.gz'));
    expect(report.exitCode).toBe(ExitCode.ok);
    expect(report.files).toBe(4); // three messages and the uidlist
    expect(await readdir(dir)).toEqual(['alice.tar.gz']);
  });

  it('writes no archive when a message cannot be read, and says how many and that nothing was written (exit 3)', async () => {
    const dir = path.join(tmp.path, 'incomplete');
    await mkdir(dir);
    const mail = await mailWith(2);
    mail.plantProblem('INBOX', 'cannot be served (test)');
    const failure = await runExport(await storeSource(mail), path.join(dir, 'alice.tar')).catch((err: unknown) => err);
    expect(failure).toMatchObject({ code: 'MAILSHIFT_EXPORT_INCOMPLETE', exitCode: ExitCode.partial });
    expect((failure as Error).message).toMatch(/1 message\(s\) or folder\(s\) could not be read .*no archive was written/);
    expect(await readdir(dir)).toEqual([]);
    // --json carries every message missing, not only how many.
    expect((failure as { toJSON(): Record<string, unknown> }).toJSON()).toMatchObject({ code: 'MAILSHIFT_EXPORT_INCOMPLETE', skipped: [{ item: 'memory INBOX UID 3', reason: 'INBOX: cannot be served (test)' }] });
  });

  it('never writes over an existing file', async () => {
    const archive = path.join(tmp.path, 'exists.tar');
    await writeFile(archive, 'keep me');
    await expect(runExport(await storeSource(await mailWith(1)), archive)).rejects.toMatchObject({ code: 'MAILSHIFT_ARCHIVE_TARGET' });
  });
});
