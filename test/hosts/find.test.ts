import { describe, expect, it } from 'vitest';
import { buildFindArgv, createFindParser, sshFailure, type TreeEntry } from '../../src/hosts/find.js';

const record = (fields: string[]) => Buffer.from(fields.map((f) => `${f}\u0000`).join(''), 'utf8');

describe('buildFindArgv', () => {
  it('lists below an absolute root without following links', () => {
    expect(buildFindArgv('/m', { maxDepth: 2 })).toEqual(['find', '/m', '-mindepth', '1', '-maxdepth', '2', '-printf', '%y\\0%s\\0%U\\0%G\\0%m\\0%n\\0%T@\\0%C@\\0%D\\0%i\\0%l\\0%b\\0%P\\0']);
    expect(buildFindArgv('/m')).not.toContain('-L');
  });

  it('does not walk into a pruned directory, taken literally, and lists it only when the filters take it', () => {
    const fmt = '%y\\0%s\\0%U\\0%G\\0%m\\0%n\\0%T@\\0%C@\\0%D\\0%i\\0%l\\0%b\\0%P\\0';
    expect(buildFindArgv('/m/', { prune: ['a.example/we[ir]d', 'virtual'], names: ['x'] })).toEqual([
      'find', '/m/', '-mindepth', '1',
      '(', '-path', '/m/a.example/we\\[ir\\]d', '-o', '-path', '/m/virtual', ')', '-prune', '(', '-name', 'x', ')', '-printf', fmt,
      '-o', '(', '-name', 'x', ')', '-printf', fmt,
    ]);
  });

  it('refuses a root find could read as an expression', () => {
    expect(() => buildFindArgv('-delete')).toThrow(/absolute/);
  });
});

describe('createFindParser', () => {
  it('reads NUL-separated records split anywhere between chunks', () => {
    const entries: TreeEntry[] = [];
    const parser = createFindParser((e) => entries.push(e));
    const data = Buffer.concat([
      record(['f', '12', '1000', '1000', '640', '1', '1577934245.5000000000', '1765000000.2500000000', '2049', '77', '', '8', 'cur/1.M1:2,S']),
      record(['l', '9', '0', '0', '777', '1', '1577934245.0000000000', '1765000001.0000000000', '2049', '78', '/etc/shadow', '0', '.evil\nname']),
      record(['d', '4096', '0', '12', '2751', '3', '1.0', '2.0', '2049', '79', '', '8', 'cur']),
    ]);
    for (let i = 0; i < data.length; i += 7) parser.push(data.subarray(i, i + 7));
    parser.end();
    expect(entries).toEqual([
      { type: 'file', path: 'cur/1.M1:2,S', sizeBytes: 12, uid: 1000, gid: 1000, mode: 0o640, nlink: 1, mtimeMs: 1577934245500, ctimeMs: 1765000000250, device: 2049, inode: 77, allocatedBytes: 4096 },
      { type: 'symlink', path: '.evil\nname', sizeBytes: 9, uid: 0, gid: 0, mode: 0o777, nlink: 1, mtimeMs: 1577934245000, ctimeMs: 1765000001000, device: 2049, inode: 78, linkTarget: '/etc/shadow' },
      { type: 'dir', path: 'cur', sizeBytes: 4096, uid: 0, gid: 12, mode: 0o2751, nlink: 3, mtimeMs: 1000, ctimeMs: 2000, device: 2049, inode: 79 },
    ]);
  });
});

describe('sshFailure', () => {
  it('points to StrictHostKeyChecking=accept-new when the host key is unknown', () => {
    const err = sshFailure('mail.example.com', 'No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\nHost key verification failed.\n');
    expect(err.exitCode).toBe(78);
    expect(err.message).toMatch(/Host key verification failed/);
    expect(err.hint).toMatch(/--ssh-option StrictHostKeyChecking=accept-new/);
  });
});
