#!/usr/bin/env node
// Writes the small mbox fixtures under fixtures/mbox/ byte for byte (see fixtures/README.md for what each proves).
// Run: node scripts/make-mbox-fixtures.mjs   (idempotent; the output is committed, marked -text in .gitattributes)
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'fixtures', 'mbox');

function put(relative, content) {
  const file = path.join(root, relative);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
}

const lf = (lines) => lines.join('\n') + '\n';

rmSync(root, { recursive: true, force: true });

// --- mboxo: '>From ' in a body stays as written (the quoting is ambiguous); 'From ' lines without a date don't split.
put('variants/mboxo.mbox', lf([
  'From alice@example.com Mon Jan  6 09:15:00 2020',
  'From: Alice <alice@example.com>',
  'To: bob@example.com',
  'Subject: mboxo one',
  'Message-ID: <mboxo-1@example.com>',
  'Date: Mon, 6 Jan 2020 09:15:00 +0000',
  '',
  'First line.',
  '>From the quoted line, as an mboxo writer escaped it.',
  'From here on nothing splits: this line has no date.',
  '',
  'From bob@example.com Tue Jan  7 10:00:00 2020',
  'From: Bob <bob@example.com>',
  'Subject: mboxo two',
  'Message-ID: <mboxo-2@example.com>',
  '',
  'Second message.',
  '',
]));

// --- mboxrd: every ^>+From line lost one '>' when read; '>>From ' marks the file as mboxrd.
put('variants/mboxrd.mbox', lf([
  'From alice@example.com Mon Jan  6 09:15:00 2020',
  'Subject: mboxrd one',
  'Message-ID: <mboxrd-1@example.com>',
  '',
  '>From the start of a line, escaped once.',
  '>>From an already quoted line, escaped again.',
  'Plain line.',
  '',
  'From bob@example.com Tue Jan  7 10:00:00 2020',
  'Subject: mboxrd two',
  'Message-ID: <mboxrd-2@example.com>',
  '',
  '>From line in the second message.',
  '',
]));

// --- mboxcl2: Content-Length frames the body; an unescaped, valid From_ line inside it must not split the message.
{
  const body1 = lf(['Body of the first message.', 'From mallory@example.com Wed Jan  8 11:00:00 2020', 'still the first message']);
  const body2 = lf(['Second body.']);
  put('variants/mboxcl2.mbox',
    lf(['From alice@example.com Mon Jan  6 09:15:00 2020', 'Subject: mboxcl2 one', 'Message-ID: <cl2-1@example.com>', `Content-Length: ${Buffer.byteLength(body1)}`, '']) + body1 + '\n' +
    lf(['From bob@example.com Tue Jan  7 10:00:00 2020', 'Subject: mboxcl2 two', 'Message-ID: <cl2-2@example.com>', `Content-Length: ${Buffer.byteLength(body2)}`, '']) + body2 + '\n');
}

// --- mboxcl: Content-Length framing with mboxo quoting ('>From ' kept as written).
{
  const body1 = lf(['One.', '>From quoted in mboxcl.']);
  put('variants/mboxcl.mbox',
    lf(['From alice@example.com Mon Jan  6 09:15:00 2020', 'Subject: mboxcl one', 'Message-ID: <cl-1@example.com>', `Content-Length: ${Buffer.byteLength(body1)}`, '']) + body1 + '\n' +
    lf(['From bob@example.com Tue Jan  7 10:00:00 2020', 'Subject: mboxcl two', 'Message-ID: <cl-2@example.com>', 'Content-Length: 4', '']) + 'Two\n' + '\n');
}

// --- A wrong Content-Length (points into the middle of the next message): framing falls back to From_ lines.
put('variants/wrong-content-length.mbox', lf([
  'From alice@example.com Mon Jan  6 09:15:00 2020',
  'Subject: wrong length one',
  'Message-ID: <wcl-1@example.com>',
  'Content-Length: 60',
  '',
  'Short body.',
  '',
  'From bob@example.com Tue Jan  7 10:00:00 2020',
  'Subject: wrong length two',
  'Message-ID: <wcl-2@example.com>',
  '',
  'Second body, long enough that byte 60 lands inside it.',
  '',
]));

// --- CRLF line ends throughout: stored with LF.
put('variants/crlf.mbox', [
  'From alice@example.com Mon Jan  6 09:15:00 2020',
  'Subject: crlf one',
  'Message-ID: <crlf-1@example.com>',
  'Status: RO',
  '',
  'CRLF body line 1',
  'CRLF body line 2',
  '',
  'From bob@example.com Tue Jan  7 10:00:00 2020',
  'Subject: crlf two',
  'Message-ID: <crlf-2@example.com>',
  '',
  'second',
  '',
].join('\r\n') + '\r\n');

// --- No final newline after the last message.
put('variants/no-final-newline.mbox', 'From alice@example.com Mon Jan  6 09:15:00 2020\nSubject: no final newline\nMessage-ID: <nfn-1@example.com>\n\nlast line without newline');

// --- gzip of the mboxo file.
{
  const text = lf([
    'From carol@example.com Thu Feb  6 08:00:00 2020',
    'Subject: gzipped one',
    'Message-ID: <gz-1@example.com>',
    'Status: RO',
    '',
    'Inside a .gz.',
    '',
    'From dave@example.com Fri Feb  7 08:00:00 2020',
    'Subject: gzipped two',
    'Message-ID: <gz-2@example.com>',
    '',
    'Also inside.',
    '',
  ]);
  put('variants/archive.mbox.gz', gzipSync(Buffer.from(text), { level: 9, mtime: 0 }));
}

// --- Dovecot / UW-IMAP spool: the FOLDER INTERNAL DATA pseudo-message, X-IMAPbase, X-UID, X-Keywords, Status, X-Status.
put('spool/dovecot-inbox', lf([
  'From MAILER-DAEMON Wed Mar  4 12:00:00 2020',
  'Date: 04 Mar 2020 12:00:00 +0000',
  'From: Mail System Internal Data <MAILER-DAEMON@mail.example.com>',
  "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA",
  'Message-ID: <1583323200@mail.example.com>',
  'X-IMAP: 1583323200 0000000012 $Label1 Work',
  'Status: RO',
  '',
  'This text is part of the internal format of your mail folder, and is not',
  'a real message.  It is created automatically by the mail system software.',
  'If deleted, important folder data will be lost, and it will be re-created',
  'with the data reset to initial values.',
  '',
  'From alice@example.com  Wed Mar  4 12:30:00 2020',
  'From: Alice <alice@example.com>',
  'Subject: seen and answered, keyword Work',
  'Message-ID: <spool-1@example.com>',
  'Status: RO',
  'X-Status: A',
  'X-Keywords: Work',
  'X-UID: 7',
  'Content-Length: 11',
  '',
  'Body seven',
  '',
  'From bob@example.com  Thu Mar  5 08:00:00 2020',
  'From: Bob <bob@example.com>',
  'Subject: flagged draft, two keywords',
  'Message-ID: <spool-2@example.com>',
  'Status: O',
  'X-Status: FT',
  'X-Keywords: $Label1 Work',
  'X-UID: 9',
  '',
  'Body nine',
  '',
  'From carol@example.com  Fri Mar  6 09:00:00 2020',
  'From: Carol <carol@example.com>',
  'Subject: unread, deleted',
  'Message-ID: <spool-3@example.com>',
  'X-Status: D',
  'X-UID: 12',
  '',
  'Body twelve',
  '',
  'From dave@example.com  Sat Mar  7 10:00:00 2020',
  'From: Dave <dave@example.com>',
  'Subject: arrived after the last Dovecot session, no X-UID',
  'Message-ID: <spool-4@example.com>',
  '',
  'Body new',
  '',
]));

// --- Thunderbird profile: From - separators, X-Mozilla-Status bits, .msf indexes, a .sbd subfolder tree.
const tb = (sender, date, subject, id, status, status2, keys, body) => lf([
  `From - ${date}`,
  `X-Mozilla-Status: ${status}`,
  `X-Mozilla-Status2: ${status2}`,
  `X-Mozilla-Keys: ${keys}`,
  `From: ${sender}`,
  `Subject: ${subject}`,
  `Message-ID: <${id}>`,
  '',
  body,
  '',
]);
put('thunderbird/Inbox',
  tb('a@example.com', 'Mon Apr  6 09:00:00 2020', 'read and replied', 'tb-1@example.com', '0003', '00000000', '$label1                ', 'one') +
  tb('b@example.com', 'Tue Apr  7 09:00:00 2020', 'new, unread', 'tb-2@example.com', '0000', '00010000', '', 'two') +
  tb('c@example.com', 'Wed Apr  8 09:00:00 2020', 'starred and forwarded', 'tb-3@example.com', '1005', '00000000', 'todo', 'three') +
  tb('d@example.com', 'Thu Apr  9 09:00:00 2020', 'expunged, not compacted', 'tb-4@example.com', '0009', '00000000', '', 'four'));
put('thunderbird/Inbox.msf', '// <!-- <mdb:mork:z v="1.4"/> -->\n');
put('thunderbird/Work', tb('e@example.com', 'Fri Apr 10 09:00:00 2020', 'work', 'tb-5@example.com', '0001', '00000000', '', 'five'));
put('thunderbird/Work.sbd/Projects', tb('f@example.com', 'Sat Apr 11 09:00:00 2020', 'project', 'tb-6@example.com', '0000', '00010000', '', 'six'));
put('thunderbird/Work.sbd/Projects.msf', '// mork\n');
put('thunderbird/Work.msf', '// mork\n');

// --- Gmail Takeout: X-Gmail-Labels, CSV-quoted, one message in several labels, one archived (no folder label).
const gm = (date, labels, subject, id) => lf([
  `From 1234567890123456789@xxx ${date}`,
  'X-GM-THRID: 1234567890123456789',
  `X-Gmail-Labels: ${labels}`,
  `Subject: ${subject}`,
  `Message-ID: <${id}>`,
  '',
  `Body of ${subject}.`,
  '',
]);
put('gmail/All mail Including Spam and Trash.mbox',
  gm('Mon May 04 10:00:00 +0000 2020', 'Inbox,Important,Opened,"Work, old",Category Updates', 'in inbox and a label with a comma', 'gm-1@example.com') +
  gm('Tue May 05 10:00:00 +0000 2020', 'Sent,Opened', 'sent mail', 'gm-2@example.com') +
  gm('Wed May 06 10:00:00 +0000 2020', 'Archived,Unread', 'archived, unread', 'gm-3@example.com') +
  gm('Thu May 07 10:00:00 +0000 2020', 'Inbox,Starred,Unread,Clients/ACME', 'starred nested label', 'gm-4@example.com') +
  gm('Fri May 08 10:00:00 +0000 2020', 'Spam,Opened', 'spam', 'gm-5@example.com'));

// --- Bad input.
// Cut off in the middle of a header line: the one cut a reader can prove (a Content-Length past the end of the file
// proves nothing: lengths go wrong when line ends are converted, so such a message is framed by From_ lines).
put('bad/truncated.mbox', lf([
  'From alice@example.com Mon Jan  6 09:15:00 2020',
  'Subject: complete',
  'Message-ID: <trunc-1@example.com>',
  '',
  'fine',
  '',
  'From bob@example.com Tue Jan  7 10:00:00 2020',
  'Subject: cut off',
]) + 'Message-ID: <trunc-2@exam');
put('bad/nul-bytes.mbox', Buffer.concat([
  Buffer.from('From alice@example.com Mon Jan  6 09:15:00 2020\nSubject: nul bytes\nMessage-ID: <nul-1@example.com>\n\nbefore'),
  Buffer.from([0, 0, 0]),
  Buffer.from('after\n\n'),
]));
put('bad/invalid-8bit-headers.mbox', Buffer.concat([
  Buffer.from('From alice@example.com Mon Jan  6 09:15:00 2020\nSubject: caf'),
  Buffer.from([0xe9, 0xff, 0xfe]),
  Buffer.from(' latin1 and junk\nFrom: M'),
  Buffer.from([0xfc]),
  Buffer.from('ller <m@example.com>\nMessage-ID: <8bit-1@example.com>\n\nbody\n\n'),
]));
put('bad/empty.mbox', '');
put('bad/not-an-mbox.txt', 'Dear user,\nthis is a letter, not a mailbox.\n');
put('bad/garbage-before-first-message.mbox', lf([
  'garbage that is not a message',
  '',
  'From alice@example.com Mon Jan  6 09:15:00 2020',
  'Subject: after garbage',
  'Message-ID: <garbage-1@example.com>',
  '',
  'body',
  '',
]));

// --- The demo account: a legacy cPanel / Dovecot mbox layout (mail/DOMAIN/USER/): inbox, folder files, a folder
// directory, a name with a literal dot, a non-ASCII name, and Dovecot's .subscriptions.
const msg = (sender, date, subject, id, extra, body) => lf([`From ${sender} ${date}`, ...extra, `From: <${sender}>`, `Subject: ${subject}`, `Message-ID: <${id}>`, `Date: ${date}`, '', ...body, '']);
put('sample-account/inbox',
  msg('MAILER-DAEMON', 'Mon Jun  1 08:00:00 2020', "DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA", 'pseudo@sample', ['X-IMAP: 1590998400 0000000004 NonJunk'], ['internal data']) +
  msg('ceo@example.com', 'Mon Jun  1 09:00:00 2020', 'Welcome to the new server', 'sample-1@example.com', ['Status: RO', 'X-UID: 1'], ['Hello,', '>From the top: everything moves tonight.']) +
  msg('it@example.com', 'Tue Jun  2 09:00:00 2020', 'Maintenance window', 'sample-2@example.com', ['Status: RO', 'X-Status: AF', 'X-Keywords: NonJunk', 'X-UID: 2'], ['Saturday 22:00 UTC.']) +
  msg('sales@example.com', 'Wed Jun  3 09:00:00 2020', 'Quarterly numbers', 'sample-3@example.com', ['Status: O', 'X-UID: 4'], ['Attached.']) +
  msg('new@example.com', 'Thu Jun  4 09:00:00 2020', 'Not read yet', 'sample-4@example.com', [], ['Arrived after the last IMAP session.']));
put('sample-account/sent-mail',
  msg('me@example.com', 'Mon Jun  1 10:00:00 2020', 'Re: Welcome to the new server', 'sample-5@example.com', ['Status: RO'], ['Thanks!']));
put('sample-account/Work/Projects',
  msg('pm@example.com', 'Fri Jun  5 09:00:00 2020', 'Project plan', 'sample-6@example.com', ['Status: RO', 'X-Status: F'], ['Plan attached.']) +
  msg('pm@example.com', 'Sat Jun  6 09:00:00 2020', 'Project plan v2', 'sample-7@example.com', ['Status: RO'], ['Updated plan.']));
put('sample-account/Work/v1.2 release',
  msg('dev@example.com', 'Sun Jun  7 09:00:00 2020', 'Release 1.2 shipped', 'sample-8@example.com', ['Status: RO'], ['The dot in this folder name is not a hierarchy separator.']));
put('sample-account/Entwürfe',
  msg('me@example.com', 'Mon Jun  8 09:00:00 2020', 'Entwurf', 'sample-9@example.com', ['Status: RO', 'X-Status: T'], ['Ein Entwurf.']));
put('sample-account/.subscriptions', lf(['sent-mail', 'Work/Projects', 'Work/v1.2 release', 'Entwürfe']));
put('sample-account/.imap/INBOX/dovecot.index', 'binary index, not mail\n');

console.log(`fixtures written to ${root}`);
