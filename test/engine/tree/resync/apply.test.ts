import { describe, expect, it } from 'vitest';
import { partitionCopies, planFolderCreation } from '../../../../src/engine/tree/resync/apply.js';
import type { CopyItem } from '../../../../src/engine/tree/resync/plan.js';
import { folderPlan } from './helpers.js';

const copy = (name: string, targetName = name): CopyItem => ({ sub: 'cur', name, targetName });

describe('planFolderCreation', () => {
  it('creates a new folder with cur/ new/ tmp/ and brings its maildirfolder and dovecot-keywords along', () => {
    expect(planFolderCreation([folderPlan('.Archive', { isNew: true })])).toEqual({
      dirs: ['.Archive', '.Archive/cur', '.Archive/new', '.Archive/tmp'],
      files: ['.Archive/maildirfolder', '.Archive/dovecot-keywords'],
    });
  });

  it('creates the domain directory of new cPanel mailboxes once, before them', () => {
    const { dirs } = planFolderCreation([folderPlan('example.com/info', { isNew: true }), folderPlan('example.com/sales', { isNew: true })]);
    expect(dirs).toEqual([
      'example.com',
      'example.com/info',
      'example.com/info/cur',
      'example.com/info/new',
      'example.com/info/tmp',
      'example.com/sales',
      'example.com/sales/cur',
      'example.com/sales/new',
      'example.com/sales/tmp',
    ]);
  });

  it('creates only the missing subdirectories of an existing folder, and takes no file along', () => {
    expect(planFolderCreation([folderPlan('', { missingSubdirs: ['tmp'] }), folderPlan('.Sent', { missingSubdirs: ['new', 'tmp'] })])).toEqual({
      dirs: ['tmp', '.Sent/new', '.Sent/tmp'],
      files: [],
    });
  });
});

describe('partitionCopies', () => {
  it('sends unchanged names in one rsync and translated ones through tmp/, deferring those of a folder whose table was not written', () => {
    const inbox = folderPlan('');
    const work = folderPlan('.Work');
    const out = partitionCopies(
      [
        { folder: inbox, copies: [copy('1:2,S'), copy('2:2,a', '2:2,b')] },
        { folder: work, copies: [copy('3:2,S'), copy('4:2,a', '4:2,c')] },
      ],
      new Set(['.Work']),
    );
    expect(out.direct).toEqual(['cur/1:2,S', '.Work/cur/3:2,S']);
    expect(out.translated).toEqual([{ folder: inbox, copy: copy('2:2,a', '2:2,b') }]);
    expect(out.deferred).toBe(1);
  });
});
