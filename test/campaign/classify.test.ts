import { describe, expect, it } from 'vitest';
import { classifyFailure, decideStageVerdict } from '../../src/campaign/classify.js';
import { MailshiftError, UsageError } from '../../src/core/errors.js';

describe('decideStageVerdict', () => {
  it('maps the engine exit codes to account states', () => {
    expect(decideStageVerdict(0, 'the copy')).toEqual({ status: 'done' });
    expect(decideStageVerdict(3, 'the copy')).toEqual({ status: 'done-with-skips' });
    expect(decideStageVerdict(4, 'verify')).toMatchObject({ status: 'failed', failureKind: 'permanent', error: expect.stringMatching(/^verify found differences/) });
    expect(decideStageVerdict(75, 'the copy')).toMatchObject({ status: 'failed', failureKind: 'temporary' });
    expect(decideStageVerdict(5, 'the copy')).toMatchObject({ status: 'failed', failureKind: 'temporary' });
    expect(decideStageVerdict(78, 'the copy')).toMatchObject({ status: 'failed', failureKind: 'permanent', error: 'the copy ended with exit code 78' });
  });
});

describe('classifyFailure', () => {
  it('retries what the error says can be retried, and nothing else', () => {
    expect(classifyFailure(new MailshiftError('MAILSHIFT_IMAP_CONNECT', 'connection refused', { retry: 'later' })).kind).toBe('temporary');
    expect(classifyFailure(new MailshiftError('MAILSHIFT_IMAP_AUTH', 'login refused')).kind).toBe('permanent');
    expect(classifyFailure(new UsageError('bad spec')).kind).toBe('permanent');
  });

  it('judges a system error by its code', () => {
    expect(classifyFailure(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })).kind).toBe('temporary');
    expect(classifyFailure(Object.assign(new Error('no such file'), { code: 'ENOENT' })).kind).toBe('permanent');
  });

  it('never passes on a password written in a URL', () => {
    expect(classifyFailure(new Error('cannot reach imaps://alice:hunter2@mail.example')).message).not.toContain('hunter2');
  });
});
