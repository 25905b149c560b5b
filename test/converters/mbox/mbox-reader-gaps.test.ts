import { Readable } from 'node:stream';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error mbox-reader ships no types; this test documents why we frame mbox ourselves.
import { mboxReader } from 'mbox-reader';
import { frame } from './frame-helper.js';

/**
 * mbox-reader was the planned parser. These cases are why converters/mbox/framer.ts replaces it; if a future
 * mbox-reader gets them right, these expectations fail and tell us to look again.
 */
async function readWithMboxReader(input: Buffer): Promise<string[]> {
  const bodies: string[] = [];
  for await (const message of mboxReader(Readable.from([input]))) bodies.push((message as { content: Buffer }).content.toString('latin1'));
  return bodies;
}
const fixture = (name: string) => readFileSync(new URL(`../../../fixtures/mbox/${name}`, import.meta.url));

describe('mbox-reader, compared with our framer', () => {
  it('splits a message at a body line "From here on..." that has no date; we do not', async () => {
    expect(await readWithMboxReader(fixture('variants/mboxo.mbox'))).toHaveLength(3);
    expect(frame(fixture('variants/mboxo.mbox')).messages).toHaveLength(2);
  });
  it('ignores Content-Length and splits an mboxcl2 body at an unescaped From_ line; we do not', async () => {
    expect(await readWithMboxReader(fixture('variants/mboxcl2.mbox'))).toHaveLength(3);
    expect(frame(fixture('variants/mboxcl2.mbox')).messages).toHaveLength(2);
  });
  it('strips ">" from ">From " even in mboxo, changing the message; we leave mboxo bytes alone', async () => {
    const [first] = await readWithMboxReader(fixture('variants/mboxo.mbox'));
    expect(first).toContain('\nFrom the quoted line');
    expect(frame(fixture('variants/mboxo.mbox')).messages[0]!.body).toContain('\n>From the quoted line');
  });
});
