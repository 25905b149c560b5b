import { describe, expect, it } from 'vitest';
import { buildSshCommand, buildSshRemoteArgv, formatRemoteCommand, formatRsyncHost, formatRsyncRsh, quoteForShell } from '../../src/transport/ssh.js';

describe('quoteForShell', () => {
  it('leaves plain words alone and single-quotes everything else', () => {
    expect(quoteForShell('/home/alice/mail')).toBe('/home/alice/mail');
    expect(quoteForShell('$(touch /tmp/x)')).toBe(`'$(touch /tmp/x)'`);
    expect(quoteForShell("it's")).toBe(`'it'\\''s'`);
    expect(quoteForShell('')).toBe(`''`);
    expect(quoteForShell('a b;c|d&e`f`')).toBe(`'a b;c|d&e\`f\`'`);
  });

  it('refuses a NUL byte, which no shell word can carry', () => {
    expect(() => quoteForShell('a\u0000b')).toThrow(/NUL/);
  });

  it('produces words a real POSIX shell reads back unchanged', async () => {
    const { execFileSync } = await import('node:child_process');
    const words = ['$(touch /nonexistent/pwned)', "a'b\"c", 'new\nline', '*', '~', '-n', 'back\\slash'];
    const out = execFileSync('sh', ['-c', `printf '%s\\0' ${formatRemoteCommand(words)}`]);
    expect(out.toString('utf8').split('\u0000').slice(0, -1)).toEqual(words);
  });
});

describe('buildSshCommand', () => {
  it('never prompts and detects dead connections', () => {
    const argv = buildSshCommand({}, undefined);
    expect(argv[0]).toBe('ssh');
    expect(argv.join(' ')).toContain('BatchMode=yes');
    expect(argv.join(' ')).toContain('ServerAliveInterval=15');
  });

  it('adds port, key and extra -o options in order', () => {
    expect(buildSshCommand({ keyFile: '/k/id', options: ['StrictHostKeyChecking=no'] }, 2222)).toEqual([
      'ssh', '-p', '2222', '-i', '/k/id', '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
      '-o', 'ServerAliveInterval=15', '-o', 'ServerAliveCountMax=3', '-o', 'ConnectTimeout=20',
      '-o', 'StrictHostKeyChecking=no',
    ]);
  });

  it('refuses -o values that would smuggle in another option or config line', () => {
    expect(() => buildSshCommand({ options: ['-oProxyCommand=x'] })).toThrow(/not an ssh option/);
    expect(() => buildSshCommand({ options: ['A=b\nProxyCommand=x'] })).toThrow(/not an ssh option/);
  });
});

describe('buildSshRemoteArgv', () => {
  it('ends options with -- before the host and passes one quoted command string', () => {
    expect(buildSshRemoteArgv({ host: '127.0.0.1', user: 'root', port: 22 }, ['find', '/a b'], { aliveIntervalS: 5 })).toEqual([
      'ssh', '-p', '22', '-o', 'BatchMode=yes', '-o', 'ServerAliveInterval=5', '-o', 'ServerAliveCountMax=3',
      '-o', 'ConnectTimeout=20', '-l', 'root', '--', '127.0.0.1', `find '/a b'`,
    ]);
  });
});

describe('formatRsyncRsh', () => {
  it('quotes words with spaces the way rsync splits --rsh', () => {
    expect(formatRsyncRsh(['ssh', '-i', '/keys/my key'])).toBe(`ssh -i '/keys/my key'`);
    expect(formatRsyncRsh(['ssh', '-i', "/keys/bob's key"])).toBe(`ssh -i "/keys/bob's key"`);
    expect(() => formatRsyncRsh(['ssh', `a'b"c`])).toThrow(/both quote/);
  });
});

describe('formatRsyncHost', () => {
  it('writes user@host and brackets IPv6', () => {
    expect(formatRsyncHost({ host: 'h', user: 'u' })).toBe('u@h');
    expect(formatRsyncHost({ host: '::1' })).toBe('[::1]');
  });
});
