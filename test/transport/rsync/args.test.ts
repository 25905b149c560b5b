import { describe, expect, it } from 'vitest';
import { buildRsyncArgv, escapeRemotePath } from '../../../src/transport/rsync/args.js';

describe('buildRsyncArgv', () => {
  it('copies a local directory into another with the safe defaults', () => {
    expect(buildRsyncArgv({ source: { path: '/a' }, target: { path: '/b/' }, ignoreExisting: true })).toEqual([
      'rsync', '--archive', '--no-devices', '--no-specials', '--safe-links', '--sparse', '--hard-links', '--ignore-existing', '--mkpath', '--itemize-changes', '--stats', '--', '/a/', '/b/',
    ]);
  });

  it('never asks for partial, in-place, appending, link-following or deleting transfers', () => {
    const argv = buildRsyncArgv({
      source: { path: '/a', ssh: { host: 'h' } },
      target: { path: '/b' },
      dryRun: true,
      progress: true,
      bwlimitKiBps: 100,
      numericIds: true,
      ioTimeoutS: 60,
      filterFile: '/tmp/rules',
      filesFromStdin: true,
      ignoreMissingArgs: true,
    });
    for (const bad of ['--partial', '--inplace', '--append', '-L', '--copy-links', '-k', '--copy-dirlinks', '-K', '--keep-dirlinks', '-P']) {
      expect(argv).not.toContain(bad);
    }
    expect(argv.some((a) => a.startsWith('--delete'))).toBe(false);
  });

  it('protects arguments and puts -- before the operands when an end is remote', () => {
    const argv = buildRsyncArgv({ source: { path: '/src' }, target: { path: '/dst x', ssh: { host: '127.0.0.1', user: 'root', port: 2222 } }, ssh: { keyFile: '/k' } });
    expect(argv).toContain('--protect-args');
    expect(argv.slice(-3)).toEqual(['--', '/src/', 'root@127.0.0.1:/dst x/']);
    const rsh = argv.find((a) => a.startsWith('--rsh='));
    expect(rsh).toBe('--rsh=ssh -p 2222 -i /k -o IdentitiesOnly=yes -o BatchMode=yes -o ServerAliveInterval=15 -o ServerAliveCountMax=3 -o ConnectTimeout=20');
  });

  it('escapes wildcards in remote sources and targets, never in local paths', () => {
    const pull = buildRsyncArgv({ source: { path: '/m/a[b]', ssh: { host: 'h' } }, target: { path: '/t[1]' } });
    expect(pull.slice(-2)).toEqual(['h:/m/a\\[b\\]/', '/t[1]/']);
    const push = buildRsyncArgv({ source: { path: '/t[1]' }, target: { path: '/m/a[b]', ssh: { host: 'h' } } });
    expect(push.slice(-2)).toEqual(['/t[1]/', 'h:/m/a\\[b\\]/']);
  });

  it('reads filter rules and file lists NUL-separated', () => {
    const argv = buildRsyncArgv({ source: { path: '/a' }, target: { path: '/b' }, filterFile: '/r', filesFromStdin: true });
    expect(argv).toContain('--from0');
    expect(argv).toContain('--filter=merge /r');
    expect(argv).toContain('--files-from=-');
    expect(argv).toContain('--recursive');
  });

  it('copies one file to a new name when both ends are files', () => {
    const argv = buildRsyncArgv({ source: { path: '/h/etc/old.rcube.db', isFile: true }, target: { path: '/t/etc/new.rcube.db', isFile: true } });
    expect(argv.slice(-2)).toEqual(['/h/etc/old.rcube.db', '/t/etc/new.rcube.db']);
  });

  it('leaves out links pointing outside the tree and special files unless asked', () => {
    const argv = buildRsyncArgv({ source: { path: '/a' }, target: { path: '/b' } });
    expect(argv).toEqual(expect.arrayContaining(['--safe-links', '--no-specials', '--no-devices']));
    const all = buildRsyncArgv({ source: { path: '/a' }, target: { path: '/b' }, safeLinks: false, specials: true });
    expect(all).not.toContain('--safe-links');
    expect(all).not.toContain('--no-specials');
  });

  it('refuses two remote ends, relative paths and nonsense limits', () => {
    expect(() => buildRsyncArgv({ source: { path: '/a', ssh: { host: 'x' } }, target: { path: '/b', ssh: { host: 'y' } } })).toThrow(/two remote/);
    expect(() => buildRsyncArgv({ source: { path: 'host:a' }, target: { path: '/b' } })).toThrow(/absolute/);
    expect(() => buildRsyncArgv({ source: { path: '/a' }, target: { path: '/b' }, bwlimitKiBps: -1 })).toThrow(/bandwidth/);
  });
});

describe('escapeRemotePath', () => {
  it('escapes only path components that rsync would expand', () => {
    expect(escapeRemotePath('/m/plain/q\\r/')).toBe('/m/plain/q\\r/');
    expect(escapeRemotePath('/m/x*y/a[1]\\b/?')).toBe('/m/x\\*y/a\\[1\\]\\\\b/\\?');
    expect(escapeRemotePath('/m/$(touch x)/')).toBe('/m/$(touch x)/');
  });
});
