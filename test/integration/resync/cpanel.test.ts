import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runResync } from '../../../src/engine/tree/resync/run.js';
import { runCopy } from '../../../src/engine/tree/run-copy.js';
import { parseStoreSpec } from '../../../src/stores/spec.js';
import { runCommand } from '../../support/process.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { generate, makeTargetRoot, type GeneratedTree } from '../copy/helpers.js';
import { deliver, makeFolder, readTree, setFlags } from './scenario.js';

/**
 * A whole cPanel account (generated tree with the default mailbox, several DOMAIN/LOCAL mailboxes, cPanel's
 * `.local@domain_tld` links and hostile names) copied with `copy`, then caught up with `resync cpanel:...#alice`.
 */
const manifest = JSON.parse(await readFile(path.resolve(import.meta.dirname, '../../../fixtures/cpanel/basic.json'), 'utf8')) as { accounts: unknown[] };

let temp: TempDir;
let tree: GeneratedTree;
let target: string;

beforeAll(async () => {
  temp = await makeTempDir('resync-cpanel', { mode: 0o755 });
  tree = generate(manifest, path.join(temp.path, 'gen'));
  target = path.join(temp.path, 'target');
  await makeTargetRoot(target, [{ user: 'alice', uid: 2001 }]);
  const copied = await runCopy(parseStoreSpec(`cpanel:${tree.root}#alice`), parseStoreSpec(`cpanel:${target}#alice`));
  expect(copied.exitCode).toBe(0);
  // What copy's chown does on a real target: the mail belongs to the account's user.
  await runCommand('chown', ['-R', '-h', '2001:2001', path.join(target, 'home/alice/mail')]);
});
afterAll(async () => {
  await temp?.cleanup();
});

describe('resync cpanel:SRC#alice cpanel:DST#alice', () => {
  it('catches up every mailbox of the account, creating a new folder, without following cPanel links', async () => {
    const srcMail = path.join(tree.root, 'home/alice/mail');
    const dstMail = path.join(target, 'home/alice/mail');
    await deliver(srcMail, '', 'default-late');
    await deliver(srcMail, 'alice.example/info', 'info-late');
    await makeFolder(srcMail, 'alice.example/sales/.Quotes');
    await deliver(srcMail, 'alice.example/sales/.Quotes', 'quote-1', { info: 'S' });
    const infoCur = (await readdir(path.join(srcMail, 'alice.example/info/cur'))).sort();
    if (infoCur[0]) await setFlags(srcMail, `alice.example/info/cur/${infoCur[0]}`, 'FS');

    const report = await runResync(parseStoreSpec(`cpanel:${tree.root}#alice`), parseStoreSpec(`cpanel:${target}#alice`));
    expect(report.exitCode).toBe(0);
    expect(report.totals).toMatchObject({ copied: 3, foldersAdded: 1, duplicatesSkipped: 0 });
    const added = report.folders.filter((f) => f.added).map((f) => f.folder);
    expect(added).toEqual(['sales@alice.example:Quotes']);

    // Each mailbox: no base name twice, everything of the source there.
    for (const dir of ['', 'alice.example/info', 'alice.example/sales', 'shop.example/orders']) {
      const source = await readTree(path.join(srcMail, dir));
      const dest = await readTree(path.join(dstMail, dir));
      for (const [folder, content] of source) {
        const there = dest.get(folder);
        expect(there, `${dir}/${folder}`).toBeDefined();
        expect(there!.duplicateBases).toEqual([]);
        for (const base of content.byBase.keys()) expect(there!.byBase.has(base), `${dir}/${folder}/${base}`).toBe(true);
      }
    }
    // The links cPanel keeps in ~/mail were copied as links by copy and stay links (resync never writes through them).
    for (const entry of await readdir(dstMail)) {
      const stats = await lstat(path.join(dstMail, entry));
      if (entry.startsWith('.') && entry.includes('@')) expect(stats.isSymbolicLink(), entry).toBe(true);
    }
    // New files and folders belong to the mailbox owner (the owner of ~/mail on the target), not to whoever ran us.
    const owner = (await lstat(dstMail)).uid;
    expect(owner).toBe(2001);
    const infoNew = await readdir(path.join(dstMail, 'alice.example/info/new'));
    const late = infoNew.find((n) => n.includes(`P${process.pid}`));
    expect(late).toBeDefined();
    expect((await lstat(path.join(dstMail, 'alice.example/info/new', late!))).uid).toBe(owner);
    expect((await lstat(path.join(dstMail, 'alice.example/sales/.Quotes/cur'))).uid).toBe(owner);
    const again = await runResync(parseStoreSpec(`cpanel:${tree.root}#alice`), parseStoreSpec(`cpanel:${target}#alice`));
    expect(again.totals).toMatchObject({ copied: 0, foldersAdded: 0 });
  });
});
