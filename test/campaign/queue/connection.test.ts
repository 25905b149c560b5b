import { describe, expect, it } from 'vitest';
import { buildRedisOptions, formatQueueAddress, parseQueueUrl } from '../../../src/campaign/queue/connection.js';

describe('parseQueueUrl', () => {
  it('reads host, port and database, with Redis defaults', () => {
    expect(parseQueueUrl('redis://queue.example:6380/2')).toEqual({ host: 'queue.example', port: 6380, db: 2, isTls: false });
    expect(parseQueueUrl('redis://queue.example')).toEqual({ host: 'queue.example', port: 6379, db: 0, isTls: false });
    expect(parseQueueUrl('rediss://[::1]:6390')).toEqual({ host: '::1', port: 6390, db: 0, isTls: true });
  });

  it('refuses a password in the URL without repeating it, and says where a password goes', () => {
    let caught: unknown;
    try {
      parseQueueUrl('redis://:s3cret-pass@queue.example:6379');
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'MAILSHIFT_USAGE', hint: expect.stringContaining('MAILSHIFT_REDIS_PASSWORD') });
    expect(String((caught as Error).message)).not.toContain('s3cret-pass');
  });

  it('refuses what is not a Redis URL', () => {
    expect(() => parseQueueUrl('queue.example:6379')).toThrow(/redis:\/\//);
    expect(() => parseQueueUrl('http://queue.example')).toThrow(/redis:\/\//);
    expect(() => parseQueueUrl('redis://queue.example/jobs')).toThrow(/database number/);
  });
});

describe('buildRedisOptions', () => {
  it('takes the password from MAILSHIFT_REDIS_PASSWORD and waits for Redis instead of failing commands', () => {
    const options = buildRedisOptions(parseQueueUrl('redis://q.example:7000/1'), { MAILSHIFT_REDIS_PASSWORD: 'pw' });
    expect(options).toMatchObject({ host: 'q.example', port: 7000, db: 1, password: 'pw', maxRetriesPerRequest: null });
    expect(buildRedisOptions(parseQueueUrl('redis://q.example'), {})).not.toHaveProperty('password');
  });

  it('keeps reconnecting, every 2 s at most', () => {
    const options = buildRedisOptions(parseQueueUrl('redis://q.example'), {});
    expect(options.retryStrategy?.(1)).toBe(200);
    expect(options.retryStrategy?.(1000)).toBe(2000);
  });

  it('formats the address back for messages', () => {
    expect(formatQueueAddress(parseQueueUrl('redis://q.example:7000/1'))).toBe('redis://q.example:7000/1');
  });
});
