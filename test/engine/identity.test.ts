import { describe, expect, it } from 'vitest';
import { buildContentHash, buildIdentity, findHeaderEnd, parseHeaderFields, toCrlf } from '../../src/engine/identity.js';

const lf = (text: string) => Buffer.from(text, 'latin1');
const crlf = (text: string) => Buffer.from(text.replace(/\n/g, '\r\n'), 'latin1');

const message = `Return-Path: <a@example.org>
Received: from mx1 by mx2; Tue, 1 Jan 2019 10:00:00 +0000
Message-ID: <abc@example.org>
Date: Tue, 1 Jan 2019 10:00:00 +0000
From: Alice <a@example.org>
To: Bob <b@example.org>,
 Carol <c@example.org>
Subject: Hello
 world

Body line
`;

describe('findHeaderEnd', () => {
  it('finds the blank line in LF and CRLF messages', () => {
    expect(findHeaderEnd(lf('A: b\n\nbody'))).toBe(6);
    expect(findHeaderEnd(crlf('A: b\n\nbody'))).toBe(8);
  });
  it('says undefined while the blank line has not been seen', () => {
    expect(findHeaderEnd(lf('A: b\nC: d\n'))).toBeUndefined();
  });
  it('treats a message that starts with a blank line as having no header', () => {
    expect(findHeaderEnd(lf('\nbody'))).toBe(1);
    expect(findHeaderEnd(crlf('\nbody'))).toBe(2);
  });
});

describe('parseHeaderFields', () => {
  it('unfolds continuation lines and stops at the body', () => {
    const fields = parseHeaderFields(lf(message));
    expect(fields.find((f) => f.name === 'subject')?.value).toBe('Hello world');
    expect(fields.find((f) => f.name === 'to')?.value).toBe('Bob <b@example.org>, Carol <c@example.org>');
    expect(fields.some((f) => f.value.includes('Body'))).toBe(false);
  });
});

describe('buildIdentity', () => {
  it('gives the same key to a message in LF (maildir) and CRLF (IMAP) form', () => {
    expect(buildIdentity(lf(message)).key).toBe(buildIdentity(crlf(message)).key);
  });

  it('ignores trace headers: the same message delivered to two servers is one message', () => {
    const other = message.replace('Received: from mx1 by mx2', 'Received: from mx9 by mx7').replace('Return-Path: <a@example.org>\n', '');
    expect(buildIdentity(lf(other)).key).toBe(buildIdentity(lf(message)).key);
  });

  it('gives the same key to the header block alone (what IMAP HEADER.FIELDS returns) and the whole message', () => {
    const fieldsOnly = 'Message-ID: <abc@example.org>\r\nDate: Tue, 1 Jan 2019 10:00:00 +0000\r\nFrom: Alice <a@example.org>\r\nTo: Bob <b@example.org>,\r\n Carol <c@example.org>\r\nSubject: Hello\r\n world\r\n\r\n';
    expect(buildIdentity(Buffer.from(fieldsOnly, 'latin1')).key).toBe(buildIdentity(lf(message)).key);
  });

  it('does not depend on the order of different fields', () => {
    const reordered = 'Subject: Hello world\nFrom: Alice <a@example.org>\nMessage-ID: <abc@example.org>\nTo: Bob <b@example.org>, Carol <c@example.org>\nDate: Tue, 1 Jan 2019 10:00:00 +0000\n\nx';
    expect(buildIdentity(lf(reordered)).key).toBe(buildIdentity(lf(message)).key);
  });

  it('tells messages with one Message-ID but different subjects apart', () => {
    expect(buildIdentity(lf(message.replace('Subject: Hello', 'Subject: Bye'))).key).not.toBe(buildIdentity(lf(message)).key);
  });

  it('marks a message without Message-ID as weak and still keys it by its other headers', () => {
    const noId = message.replace('Message-ID: <abc@example.org>\n', '');
    const identity = buildIdentity(lf(noId));
    expect(identity.isWeak).toBe(true);
    expect(identity.messageId).toBeUndefined();
    expect(buildIdentity(lf(noId.replace('Hello', 'Other'))).key).not.toBe(identity.key);
  });

  it('keeps 8-bit header bytes as they are', () => {
    const a = Buffer.concat([lf('Message-ID: <x@y>\nSubject: '), Buffer.from([0xe4, 0xf6]), lf('\n\n')]);
    const b = Buffer.concat([lf('Message-ID: <x@y>\nSubject: '), Buffer.from([0xe4, 0xf7]), lf('\n\n')]);
    expect(buildIdentity(a).key).not.toBe(buildIdentity(b).key);
  });
});

describe('toCrlf and buildContentHash', () => {
  it('turns bare LF into CRLF and leaves CRLF alone', () => {
    expect(toCrlf(lf('a\nb\r\nc\n')).toString('latin1')).toBe('a\r\nb\r\nc\r\n');
    const already = crlf('a\nb\n');
    expect(toCrlf(already)).toBe(already);
  });
  it('hashes the LF and CRLF forms of a message alike, and different bodies differently', () => {
    expect(buildContentHash(lf(message))).toBe(buildContentHash(crlf(message)));
    expect(buildContentHash(lf(`${message}x`))).not.toBe(buildContentHash(lf(message)));
  });
});
