import { describe, expect, it } from 'vitest';
import { classifyRsyncExit, decideRetryDelayMs } from '../../../src/transport/rsync/exit.js';

describe('classifyRsyncExit', () => {
  it('treats vanished files (24) as the normal state of a live maildir, not a failure', () => {
    expect(classifyRsyncExit(24)).toMatchObject({ outcome: 'vanished', isRetryable: false });
  });

  it('reports 23 as a partial transfer', () => {
    expect(classifyRsyncExit(23)).toMatchObject({ outcome: 'partial', isRetryable: false });
  });

  it('retries dropped and stalled connections', () => {
    for (const code of [10, 12, 30, 35, 255]) {
      expect(classifyRsyncExit(code, 'rsync: connection unexpectedly closed')).toMatchObject({ outcome: 'network', isRetryable: true });
    }
    expect(classifyRsyncExit(undefined, '', 'SIGKILL')).toMatchObject({ outcome: 'network', isRetryable: true });
  });

  it('does not retry what ssh says will fail again', () => {
    expect(classifyRsyncExit(255, 'root@127.0.0.1: Permission denied (publickey).')).toMatchObject({ outcome: 'config', isRetryable: false });
    expect(classifyRsyncExit(255, 'Host key verification failed.')).toMatchObject({ outcome: 'config', isRetryable: false });
    expect(classifyRsyncExit(12, 'bash: line 1: rsync: command not found')).toMatchObject({ outcome: 'config' });
  });

  it('blames ssh when ssh refused, also when rsync noticed the closed pipe first and exited 12', () => {
    for (const code of [255, 12]) {
      expect(classifyRsyncExit(code, 'root@127.0.0.1: Permission denied (publickey).\nrsync: connection unexpectedly closed').meaning).toBe(
        'ssh failed (connection refused, closed or not authenticated): root@127.0.0.1: Permission denied (publickey).',
      );
    }
    expect(classifyRsyncExit(12, 'bash: line 1: rsync: command not found').meaning).toMatch(/^error in rsync protocol data stream: .*command not found/);
  });

  it('names a full target disk (not the sender\'s "Broken pipe") and does not retry it, whatever code rsync ended with', () => {
    const tail = [
      'rsync: [receiver] write failed on "/t/cur/1.M1P1.h:2,S": No space left on device (28)',
      'rsync error: error in file IO (code 11) at receiver.c(657) [receiver=3.5.0]',
      'rsync: [sender] write error: Broken pipe (32)',
    ].join('\n');
    for (const code of [11, 12, 23]) {
      const exit = classifyRsyncExit(code, tail);
      expect(exit).toMatchObject({ outcome: 'fatal', isRetryable: false, meaning: 'the target is full (No space left on device)' });
      expect(exit.hint).toMatch(/filesystem is full.*free space and run again/);
    }
    expect(classifyRsyncExit(23, 'rsync: [receiver] mkstemp "/t/cur/.x" failed: Disk quota exceeded (122)').meaning).toMatch(/target is full/);
  });

  it('names a read-only target instead of a partial transfer', () => {
    const exit = classifyRsyncExit(23, 'rsync: [generator] recv_generator: mkdir "/ro/cur" failed: Read-only file system (30)\nrsync error: some files/attrs were not transferred (code 23)');
    expect(exit).toMatchObject({ outcome: 'config', isRetryable: false });
    expect(exit.hint).toMatch(/read-only/);
  });

  it('tells how to accept an unknown ssh host key', () => {
    const exit = classifyRsyncExit(255, 'Host key verification failed.\nrsync: connection unexpectedly closed');
    expect(exit.outcome).toBe('config');
    expect(exit.hint).toMatch(/--ssh-option StrictHostKeyChecking=accept-new/);
  });

  it('maps interrupts, usage errors and everything unknown', () => {
    expect(classifyRsyncExit(20).outcome).toBe('interrupted');
    expect(classifyRsyncExit(undefined, '', 'SIGTERM').outcome).toBe('interrupted');
    expect(classifyRsyncExit(1).outcome).toBe('config');
    expect(classifyRsyncExit(4).outcome).toBe('config');
    expect(classifyRsyncExit(11)).toMatchObject({ outcome: 'fatal', isRetryable: false });
    expect(classifyRsyncExit(99).meaning).toMatch(/unknown/);
    expect(classifyRsyncExit(0).outcome).toBe('ok');
  });
});

describe('decideRetryDelayMs', () => {
  it('doubles from the base and stops at the cap', () => {
    expect([1, 2, 3, 4, 10].map((n) => decideRetryDelayMs(n, 1000, 5000))).toEqual([1000, 2000, 4000, 5000, 5000]);
  });
});
