import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WriteQueue } from '../../../src/stores/maildir/write-queue.js';

let dir: string;
const saved = process.env.MAILSHIFT_WRITER;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mailshift-queue-'));
  for (const sub of ['tmp', 'cur', 'cur2']) mkdirSync(path.join(dir, sub));
});
afterEach(async () => {
  if (saved === undefined) delete process.env.MAILSHIFT_WRITER;
  else process.env.MAILSHIFT_WRITER = saved;
  await rm(dir, { recursive: true, force: true });
});

for (const mode of ['thread', 'inline'] as const) {
  describe(`WriteQueue (${mode})`, () => {
    beforeEach(() => {
      process.env.MAILSHIFT_WRITER = mode;
    });

    it('writes through tmp/, sets the received time, and renames into place in queue order', async () => {
      const queue = new WriteQueue();
      const when = Date.UTC(2020, 0, 6, 9, 15);
      queue.enqueue({ kind: 'write', tmpPath: path.join(dir, 'tmp/a'), finalPath: path.join(dir, 'cur/a:2,S'), mtimeMs: when, data: queue.pack([Buffer.from('hello '), Buffer.from('world\n')], 12) });
      // A link queued after the write always finds the file (Gmail labels place one message in several folders).
      queue.enqueue({ kind: 'link', existingPath: path.join(dir, 'cur/a:2,S'), tmpPath: path.join(dir, 'tmp/b'), finalPath: path.join(dir, 'cur2/a:2,S'), mtimeMs: when });
      queue.enqueue({ kind: 'open', tmpPath: path.join(dir, 'tmp/big') });
      queue.enqueue({ kind: 'append', tmpPath: path.join(dir, 'tmp/big'), data: queue.pack([Buffer.alloc(300_000, 120)], 300_000) });
      queue.enqueue({ kind: 'append', tmpPath: path.join(dir, 'tmp/big'), data: queue.pack([Buffer.from('end\n')], 4) });
      queue.enqueue({ kind: 'finish', tmpPath: path.join(dir, 'tmp/big'), finalPath: path.join(dir, 'cur/big'), mtimeMs: when });
      queue.enqueue({ kind: 'open', tmpPath: path.join(dir, 'tmp/dropped') });
      queue.enqueue({ kind: 'discard', tmpPath: path.join(dir, 'tmp/dropped') });
      await queue.close();
      expect(readFileSync(path.join(dir, 'cur/a:2,S'), 'utf8')).toBe('hello world\n');
      expect(statSync(path.join(dir, 'cur/a:2,S')).mtimeMs).toBe(when);
      expect(statSync(path.join(dir, 'cur2/a:2,S')).ino).toBe(statSync(path.join(dir, 'cur/a:2,S')).ino);
      expect(statSync(path.join(dir, 'cur/big')).size).toBe(300_004);
      expect(readdirSync(path.join(dir, 'tmp'))).toEqual([]);
    });

    it('hashes on the writer: a hashed write lands in tmp/ with its digest published, and goes in place only when renamed', async () => {
      const queue = new WriteQueue();
      const when = Date.UTC(2021, 5, 1);
      const small = Buffer.from('Subject: small\n\nbody\n');
      const first = queue.claimDigestSeq();
      queue.enqueue({ kind: 'write-hashed', tmpPath: path.join(dir, 'tmp/s'), mtimeMs: when, data: queue.pack([small], small.length), digestSeq: first });
      // A large message streamed in pieces is hashed piece by piece.
      const second = queue.claimDigestSeq();
      const pieces = [Buffer.alloc(300_000, 97), Buffer.from('tail\n')];
      queue.enqueue({ kind: 'open', tmpPath: path.join(dir, 'tmp/l'), isHashed: true });
      for (const piece of pieces) queue.enqueue({ kind: 'append', tmpPath: path.join(dir, 'tmp/l'), data: queue.pack([piece], piece.length) });
      queue.enqueue({ kind: 'finish-hashed', tmpPath: path.join(dir, 'tmp/l'), mtimeMs: when, digestSeq: second });
      expect(queue.readDigestHex(first)).toBe(createHash('sha256').update(small).digest('hex'));
      expect(queue.readDigestHex(second)).toBe(createHash('sha256').update(Buffer.concat(pieces)).digest('hex'));
      expect(queue.isDigestReady(second)).toBe(true);
      queue.enqueue({ kind: 'rename', tmpPath: path.join(dir, 'tmp/s'), finalPath: path.join(dir, 'cur/s') });
      queue.enqueue({ kind: 'discard', tmpPath: path.join(dir, 'tmp/l') });
      await queue.close();
      expect(readFileSync(path.join(dir, 'cur/s')).equals(small)).toBe(true);
      expect(statSync(path.join(dir, 'cur/s')).mtimeMs).toBe(when);
      expect(readdirSync(path.join(dir, 'tmp'))).toEqual([]);
    });

    it('a hashed write that fails leaves no tmp file, and its digest cannot be used to name anything', async () => {
      const queue = new WriteQueue();
      const seq = queue.claimDigestSeq();
      // Inline, the failure is thrown at once; on the thread, when the digest is read.
      expect(() => {
        queue.enqueue({ kind: 'write-hashed', tmpPath: path.join(dir, 'no-such-dir/x'), mtimeMs: 0, data: queue.pack([Buffer.from('x')], 1), digestSeq: seq });
        queue.readDigestHex(seq);
        // The reason comes with it even though this thread never yields to receive the writer's messages.
      }).toThrow(expect.objectContaining({ code: 'MAILSHIFT_WRITE_FAILED', message: expect.stringMatching(/no-such-dir\/x: .*ENOENT/) }));
      expect(existsSync(path.join(dir, 'no-such-dir/x'))).toBe(false);
      await queue.close().catch(() => undefined);
    });

    it('reports a failed write with its path, at the latest when drained', async () => {
      const queue = new WriteQueue();
      const failure = (async () => {
        queue.enqueue({ kind: 'write', tmpPath: path.join(dir, 'no-such-dir/x'), finalPath: path.join(dir, 'cur/x'), mtimeMs: 0, data: queue.pack([Buffer.from('x')], 1) });
        await queue.drain();
      })();
      await expect(failure).rejects.toMatchObject({ code: 'MAILSHIFT_WRITE_FAILED', message: expect.stringContaining('no-such-dir/x') });
      await queue.close().catch(() => undefined);
    });
  });
}
