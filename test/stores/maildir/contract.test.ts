import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { openLocalMaildir } from '../../../src/stores/open.js';
import { MaildirStore } from '../../../src/stores/maildir/index.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { describeStoreContract } from '../contract.js';

let work: TempDir;
let count = 0;
beforeAll(async () => {
  work = await makeTempDir('maildir-contract');
});
afterAll(async () => {
  await work?.cleanup();
});

const freshRoot = async () => {
  const root = path.join(work.path, `maildir-${(count += 1)}`);
  await mkdir(root);
  return root;
};

describeStoreContract('maildir', {
  empty: async () => {
    const root = await freshRoot();
    return { open: async () => new MaildirStore(root, { writable: true }) };
  },
  withProblem: async () => {
    const root = await freshRoot();
    for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(root, sub));
    await writeFile(path.join(root, 'cur/1700000000.M1P1.host:2,S'), 'Subject: fine\n\nA message.\n');
    // The literal text "\xe9" in a UTF-8 name, beside a name holding the byte 0xe9: both read "caf\xe9", and the one
    // whose name is not UTF-8 cannot be served under it.
    await writeFile(path.join(root, 'cur/1700000001.M2P1.caf\\xe9:2,S'), 'Subject: literal\n\nliteral backslash\n');
    await writeFile(Buffer.from(`${root}/cur/1700000001.M2P1.caf\xe9:2,S`, 'latin1'), 'Subject: latin1\n\nlatin-1 byte\n');
    return { open: async () => openLocalMaildir(root) };
  },
});
