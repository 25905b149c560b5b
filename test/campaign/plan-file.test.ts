import { describe, expect, it } from 'vitest';
import { formatPlan, parsePlan } from '../../src/campaign/plan-file.js';

describe('parsePlan', () => {
  it('reads rows under a header, skipping # comments and blank lines, with defaults and groups from the source host', () => {
    const text = [
      '# campaign for old.example.com',
      'id,source,target,priority,timeout',
      '',
      'alice,cpanel:ssh://old.example.com/#alice,cpanel:/#alice,5,3600',
      '# bob later',
      'bob,imaps://bob@mail.example.com,/srv/mail/bob,,',
    ].join('\n');
    const plan = parsePlan(text);
    expect(plan.errors).toEqual([]);
    expect(plan.rows).toEqual([
      { id: 'alice', source: 'cpanel:ssh://old.example.com/#alice', target: 'cpanel:/#alice', group: 'old.example.com', priority: 5, timeoutS: 3600, line: 4 },
      { id: 'bob', source: 'imaps://bob@mail.example.com', target: '/srv/mail/bob', group: 'mail.example.com', priority: 0, line: 6 },
    ]);
  });

  it('reads what spreadsheets write: a byte-order mark, CRLF line ends, quoted fields with commas', () => {
    const plan = parsePlan('\uFEFFid,source,target,options\r\nalice,/srv/a,/srv/b,"--exclude ^Trash$,x"\r\n');
    expect(plan.errors).toEqual([]);
    expect(plan.rows[0]).toMatchObject({ id: 'alice', options: '--exclude ^Trash$,x', group: 'local' });
  });

  it('refuses the whole plan on an unknown or missing column, naming the line', () => {
    expect(parsePlan('id,source,target,passwd\n').errors).toEqual([{ line: 1, message: 'unknown column "passwd" (known: id, source, target, rename, group, priority, timeout, options, source_credential, target_credential)' }]);
    expect(parsePlan('# nothing\nid,source\n').errors).toEqual([{ line: 2, message: 'the header has no "target" column' }]);
    expect(parsePlan('# only comments\n').errors).toEqual([{ line: 1, message: 'the plan is empty: it needs a header row (id,source,target,...)' }]);
  });

  it('reports every bad row with its line and keeps none of them: duplicate ids, bad specs, bad numbers, wrong field counts', () => {
    const text = [
      'id,source,target,rename,priority,timeout',
      'alice,/srv/a,/srv/b,,,',
      'alice,/srv/c,/srv/d,,,',
      'carol,ftp://x,/srv/d,,,',
      'dave,/srv/a,/srv/b,dave,high,0',
      'erin,/srv/a',
    ].join('\n');
    const plan = parsePlan(text);
    expect(plan.rows.map((row) => row.id)).toEqual(['alice']);
    expect(plan.errors).toEqual([
      { line: 3, message: 'id "alice" is used twice (first on line 2)' },
      { line: 4, message: expect.stringMatching(/^source: /) },
      { line: 5, message: 'rename "dave" is not OLD:NEW cPanel user names' },
      { line: 5, message: 'priority "high" is not a whole number' },
      { line: 5, message: 'timeout "0" is not a number of seconds (1 or more)' },
      { line: 6, message: '2 fields where the header has 6' },
    ]);
  });

  it('never keeps a password: one typed into a URL is refused, and never repeated in the message', () => {
    const plan = parsePlan('id,source,target\nalice,imaps://alice:S3cret@mail.example.com,/srv/b\n');
    expect(plan.rows).toEqual([]);
    expect(plan.errors).toEqual([{ line: 2, message: 'source carries a password: move it to the credentials file and name it in source_credential' }]);
    expect(JSON.stringify(plan)).not.toContain('S3cret');
  });
});

describe('formatPlan', () => {
  it('writes a plan that reads back as the same rows', () => {
    const rows = parsePlan('id,source,target,rename,group,priority,timeout,options,source_credential,target_credential\nalice,cpanel:/old#alice,cpanel:/new#alice2,alice:alice2,g1,3,60,"--max-size 35M",,\nbob,imaps://bob@h,/srv/bob,,,0,,,bob-src,\n').rows;
    expect(rows).toHaveLength(2);
    const text = formatPlan(rows, 'made by mailshift plan\nedit freely');
    expect(text.startsWith('# made by mailshift plan\n# edit freely\nid,source,target,')).toBe(true);
    const again = parsePlan(text);
    expect(again.errors).toEqual([]);
    expect(again.rows.map(({ line: _line, ...row }) => row)).toEqual(rows.map(({ line: _line, ...row }) => row));
  });
});
