import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { silentLogger } from '../../../src/core/logger.js';
import { MboxStore } from '../../../src/stores/mbox/index.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { describeStoreContract, type SampleFolders, type SampleMessage } from '../contract.js';

/**
 * The read side of the contract, which is all an mbox store offers: the mail is written as a Dovecot/UW-IMAP mbox
 * tree would hold it (one file per folder, flags in Status/X-Status, keywords in X-Keywords, the arrival time in the
 * From_ line), and the store must serve the messages without that bookkeeping, byte for byte.
 */

let work: TempDir;
let count = 0;
beforeAll(async () => {
  work = await makeTempDir('mbox-contract');
});
afterAll(async () => {
  await work?.cleanup();
});

const asctime = (date: Date) => {
  const [weekday, day, month, year, time] = date.toUTCString().replace(',', '').split(' ');
  return `${weekday} ${month} ${day!.replace(/^0/, ' ').padStart(2, ' ')} ${time} ${year}`;
};

function formatMboxMessage(message: SampleMessage): string {
  const headerEnd = message.content.indexOf('\n\n');
  const status = message.flags.includes('\\Seen') ? 'RO' : 'O';
  const xStatus = [message.flags.includes('\\Answered') ? 'A' : '', message.flags.includes('\\Flagged') ? 'F' : '', message.flags.includes('\\Draft') ? 'T' : ''].join('');
  const bookkeeping = [`Status: ${status}`, ...(xStatus ? [`X-Status: ${xStatus}`] : []), ...(message.keywords.length ? [`X-Keywords: ${message.keywords.join(' ')}`] : [])];
  return `From sender@example.org ${asctime(message.internalDate)}\n${message.content.slice(0, headerEnd)}\n${bookkeeping.join('\n')}${message.content.slice(headerEnd)}\n`;
}

async function writeMboxTree(folders: SampleFolders): Promise<string> {
  const root = path.join(work.path, `mbox-${(count += 1)}`);
  for (const [folder, messages] of folders) {
    const file = path.join(root, folder === 'INBOX' ? 'inbox' : folder);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, messages.map(formatMboxMessage).join(''));
  }
  return root;
}

describeStoreContract('mbox (read only)', {
  holding: async (folders) => {
    const root = await writeMboxTree(folders);
    return { open: async () => new MboxStore(root, { logger: silentLogger }) };
  },
  withProblem: async () => {
    const root = path.join(work.path, `mbox-${(count += 1)}`);
    await mkdir(root);
    await writeFile(path.join(root, 'inbox'), `Stray bytes before the first separator line.\n\nFrom sender@example.org Tue Jan  2 10:00:00 1996\nSubject: fine\n\nA message.\n\n`);
    return { open: async () => new MboxStore(root, { logger: silentLogger }) };
  },
});
