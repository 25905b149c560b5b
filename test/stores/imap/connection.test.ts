import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { buildImapFlowOptions, buildImapLogger, formatLogEntry, isLoopbackHost } from '../../../src/stores/imap/connection.js';
import type { ImapSpec } from '../../../src/stores/spec.js';

const spec = (over: Partial<ImapSpec> = {}): ImapSpec => ({ kind: 'imap', tls: true, user: 'alice', host: 'mail.example.com', port: 993, ...over });
const lines: string[] = [];
const logger = createLogger({ level: 'info', write: (line) => lines.push(line) });

describe('buildImapFlowOptions', () => {
  it('verifies certificates by default and adds --ca-file certificates to the system roots', () => {
    const options = buildImapFlowOptions({ spec: spec(), password: 'pw', logger, caPem: '-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n' });
    expect(options.secure).toBe(true);
    expect(options.tls?.rejectUnauthorized).toBe(true);
    const ca = options.tls?.ca as string[];
    expect(ca.length).toBeGreaterThan(1);
    expect(ca.at(-1)).toContain('BEGIN CERTIFICATE');
  });

  it('requires STARTTLS for imap:// to another machine, and only --insecure lifts that', () => {
    expect(buildImapFlowOptions({ spec: spec({ tls: false, port: 143 }), password: 'pw', logger }).doSTARTTLS).toBe(true);
    const insecure = buildImapFlowOptions({ spec: spec({ tls: false, port: 143 }), password: 'pw', logger, isInsecure: true });
    expect(insecure.doSTARTTLS).toBeUndefined();
    expect(insecure.tls?.rejectUnauthorized).toBe(false);
  });

  it('lets imap:// on the loopback interface log in without TLS (nothing leaves the machine)', () => {
    expect(buildImapFlowOptions({ spec: spec({ tls: false, host: '127.0.0.1' }), password: 'pw', logger }).doSTARTTLS).toBeUndefined();
    expect(isLoopbackHost('127.0.0.53')).toBe(true);
    expect(isLoopbackHost('::1')).toBe(true);
    expect(isLoopbackHost('10.0.0.1')).toBe(false);
    expect(isLoopbackHost('127.example.com')).toBe(false);
  });
});

describe('buildImapLogger', () => {
  it('keeps imapflow quiet (and its protocol dumps unserialised) unless --debug', () => {
    const quiet = buildImapLogger(logger, 'alice@h');
    expect(quiet.isLevelEnabled('debug')).toBe(false);
    quiet.info({ msg: 'Connection established' });
    expect(lines).toEqual([]);
    const debugLines: string[] = [];
    const loud = buildImapLogger(createLogger({ level: 'debug', write: (line) => debugLines.push(line) }), 'alice@h');
    expect(loud.isLevelEnabled('trace')).toBe(false);
    expect(loud.isLevelEnabled('debug')).toBe(true);
    loud.warn({ msg: 'Dropped flags', cid: 'x1', path: 'INBOX', err: new Error('boom') });
    expect(debugLines).toEqual(['debug: imap alice@h: Dropped flags boom cid=x1 path=INBOX\n']);
  });

  it('formats odd entries without throwing', () => {
    expect(formatLogEntry('plain')).toBe('plain');
    expect(formatLogEntry(null)).toBe('null');
  });
});
