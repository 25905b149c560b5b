import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../../../src/core/exit-codes.js';
import { buildFolderReports, decideResyncExit, displayFolder, sumResyncTotals } from '../../../../src/engine/tree/resync/report.js';
import { folderPlan } from './helpers.js';

const plan = {
  folders: [
    folderPlan('.Sent', {
      isNew: true,
      copies: [
        { sub: 'cur' as const, name: '1:2,S', targetName: '1:2,S' },
        { sub: 'cur' as const, name: '2:2,S', targetName: '2:2,S' },
        { sub: 'new' as const, name: '3', targetName: '3' },
      ],
      alreadyPresent: 4,
      renames: [{ from: { sub: 'cur' as const, name: '9:2,' }, to: { sub: 'cur' as const, name: '9:2,S' } }],
    }),
    folderPlan('', { alreadyPresent: 7, targetOnly: [{ sub: 'new', name: '8' }] }),
  ],
  skippedFolders: [],
};
const duplicates = new Set(['.Sent/new/3']);

describe('buildFolderReports', () => {
  it('reports what a real run did, sorted by folder name, with what did not arrive', () => {
    const applied = { copied: new Map([['.Sent', 1]]), renamed: new Map([['.Sent', 1]]), subscribed: new Set(['.Sent']) };
    const [inbox, sent] = buildFolderReports(plan, duplicates, applied, { dryRun: false, layout: 'maildir' });
    expect(inbox).toMatchObject({ folder: 'INBOX', copied: 0, notCopied: 0, alreadyPresent: 7, targetOnly: 1, added: false, subscribed: false });
    expect(sent).toMatchObject({ folder: 'Sent', dir: '.Sent', added: true, subscribed: true, copied: 1, notCopied: 1, duplicatesSkipped: 1, flagsApplied: 1 });
  });

  it('reports what a dry run would do: every copy that is no duplicate, every rename', () => {
    const sent = buildFolderReports(plan, duplicates, { copied: new Map(), renamed: new Map() }, { dryRun: true, layout: 'maildir' })[1];
    expect(sent).toMatchObject({ copied: 2, notCopied: 0, duplicatesSkipped: 1, flagsApplied: 1, subscribed: false });
  });
});

describe('sumResyncTotals', () => {
  it('adds the folders up and counts the added ones', () => {
    const folders = buildFolderReports(plan, duplicates, { copied: new Map([['.Sent', 2]]), renamed: new Map() }, { dryRun: false, layout: 'maildir' });
    expect(sumResyncTotals(folders, 1234)).toEqual({
      copied: 2,
      notCopied: 0,
      alreadyPresent: 11,
      duplicatesSkipped: 1,
      flagDifferences: 0,
      flagsApplied: 0,
      foldersAdded: 1,
      targetOnly: 1,
      bytesCopied: 1234,
    });
  });
});

describe('decideResyncExit', () => {
  it('puts failures first, then "run again", then partial', () => {
    expect(decideResyncExit('config', true, true)).toBe(ExitCode.config);
    expect(decideResyncExit('fatal', true, true)).toBe(ExitCode.failed);
    expect(decideResyncExit('network', true, true)).toBe(ExitCode.tempFail);
    expect(decideResyncExit('partial', true, false)).toBe(ExitCode.partial);
    expect(decideResyncExit('ok', true, true)).toBe(ExitCode.sourceChanged);
    expect(decideResyncExit('vanished', false, true)).toBe(ExitCode.partial);
    expect(decideResyncExit(undefined, false, false)).toBe(ExitCode.ok);
  });
});

describe('displayFolder', () => {
  it('names folders as a mail client does, cPanel mailboxes as local@domain:Folder', () => {
    expect(displayFolder('', 'maildir')).toBe('INBOX');
    expect(displayFolder('.Work.Projects', 'maildir')).toBe('Work/Projects');
    expect(displayFolder('example.com/info', 'cpanel-mail')).toBe('info@example.com:INBOX');
    expect(displayFolder('example.com/info/.Sent', 'cpanel-mail')).toBe('info@example.com:Sent');
    expect(displayFolder('.Sent', 'cpanel-mail')).toBe('Sent');
  });

  it('shows a name that does not decode as it is', () => {
    expect(displayFolder('.&Jjo', 'maildir')).toBe('.&Jjo');
  });
});
