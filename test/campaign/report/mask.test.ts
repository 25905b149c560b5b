import { describe, expect, it } from 'vitest';
import { buildReportMask, decideHostLabels } from '../../../src/campaign/report/mask.js';

const plan = [
  { source: 'imaps://alice@mail.old.example', target: 'imaps://alice@mail.new.example:993' },
  { source: 'cpanel:ssh://root@cp2.old.example:2222/#bob', target: 'cpanel:/srv/new#bob' },
  { source: 'imaps://carol@mail.old.example', target: 'maildir:/srv/mail/carol' },
];

describe('customer report mask', () => {
  it('names each host of the plan by its role, numbering the second host of a role', () => {
    expect([...decideHostLabels(plan)]).toEqual([
      ['mail.old.example', 'source-host'],
      ['mail.new.example', 'target-host'],
      ['cp2.old.example', 'source-host-2'],
    ]);
  });

  it('hides the hosts of sources and targets, keeping users, ports and paths', () => {
    const mask = buildReportMask(plan, 'customer');
    expect(mask.text('imaps://alice@mail.old.example')).toBe('imaps://alice@source-host');
    expect(mask.text('imaps://alice@mail.new.example:993')).toBe('imaps://alice@target-host:993');
    expect(mask.text('cpanel:ssh://root@cp2.old.example:2222/#bob')).toBe('cpanel:ssh://root@source-host-2:2222/#bob');
    expect(mask.text('cpanel:/srv/new#bob')).toBe('cpanel:/srv/new#bob');
  });

  it('hides them in free text too (errors, reasons), whatever their case, and any IPv4 address', () => {
    const mask = buildReportMask(plan, 'customer');
    expect(mask.text('connect to MAIL.OLD.EXAMPLE (192.0.2.17:993) refused; cp2.old.example.')).toBe('connect to source-host ([address]:993) refused; source-host-2.');
  });

  it('leaves a longer name that merely contains a host alone', () => {
    const mask = buildReportMask(plan, 'customer');
    expect(mask.text('mx.mail.old.example.net and xmail.old.example')).toBe('mx.mail.old.example.net and xmail.old.example');
  });

  it('shows hosts in a full report, but never a password typed into a URL, in either', () => {
    const full = buildReportMask(plan, 'full');
    expect(full.text('imaps://alice@mail.old.example')).toBe('imaps://alice@mail.old.example');
    expect(full.text('imap://bob:hunter2@mail.old.example')).toBe('imap://bob:***@mail.old.example');
    expect(buildReportMask(plan, 'customer').text('imap://bob:hunter2@mail.old.example')).toBe('imap://bob:***@source-host');
  });
});
