import { mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailshiftError } from '../../../src/core/errors.js';
import { openSshSession, type SshSession } from '../../../src/hosts/ssh-session.js';
import { fetchFiles, pushFiles } from '../../../src/hosts/transfer.js';
import { startSshd, type Sshd } from '../../support/sshd.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';

/**
 * fetchFiles and pushFiles over a real sshd on 127.0.0.1, against a cPanel home whose user planted a link where the
 * account files are (etc/linked.example -> a directory standing for the server's /etc): rsync would open the listed
 * path through it, so the walk before rsync leaves such a file out (fetch) or stops the push, and the directory
 * behind the link is neither read nor written.
 */
let temp: TempDir;
let sshd: Sshd;
let session: SshSession;
let server: string;
let system: string;

beforeAll(async () => {
  temp = await makeTempDir('hosts-transfer', { mode: 0o755 });
  sshd = await startSshd();
  session = await openSshSession({ keyFile: sshd.clientKeyPath, configFile: '/dev/null', options: ['StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null', 'LogLevel=ERROR'] });
  server = path.join(temp.path, 'server');
  system = path.join(temp.path, 'system-etc');
  const realHome = path.join(temp.path, 'home2', 'bob');
  await mkdir(path.join(realHome, 'etc', 'real.example'), { recursive: true });
  await mkdir(path.join(server, 'home'), { recursive: true });
  await mkdir(system);
  await writeFile(path.join(system, 'shadow'), 'root:$6$secret:19000::::::\n');
  await writeFile(path.join(system, 'passwd'), 'root:x:0:0::/root:/bin/bash\n');
  await writeFile(path.join(realHome, 'etc', 'real.example', 'shadow'), 'alice:$6$x:19000::::::\n');
  await symlink(system, path.join(realHome, 'etc', 'linked.example'));
  // The home itself is a link (as on a server whose homes moved to /home2): passwd names it, so it is trusted.
  await symlink(realHome, path.join(server, 'home', 'bob'));
});
afterAll(async () => {
  await session?.close([{ host: '127.0.0.1', user: 'root', port: sshd.port }]);
  await sshd?.stop();
  await temp?.cleanup();
});

const far = () => ({ path: server, ssh: { host: '127.0.0.1', user: 'root', port: sshd.port } });

describe('fetchFiles over ssh', () => {
  it('fetches the files whose way down passes no link, and leaves out the one behind etc/linked.example', async () => {
    const local = path.join(temp.path, 'fetched');
    await fetchFiles(far(), ['home/bob/etc/real.example/shadow', 'home/bob/etc/linked.example/shadow', 'home/bob/etc/gone.example/shadow'], local, {
      ssh: session.options,
      trusted: ['home/bob'],
    });
    expect(await readFile(path.join(local, 'home/bob/etc/real.example/shadow'), 'utf8')).toBe('alice:$6$x:19000::::::\n');
    expect(await readdir(path.join(local, 'home/bob/etc'))).toEqual(['real.example']);
  });

  it('fetches more paths than one remote command line holds (resync fetches thousands to compare)', async () => {
    const many = path.join(temp.path, 'many');
    const names = Array.from({ length: 3000 }, (_, i) => `cur/17000${String(i).padStart(5, '0')}.M${i}P1.${'host-with-a-long-name.example.com'.repeat(2)},S=2:2,S`);
    await mkdir(path.join(many, 'cur'), { recursive: true });
    for (const name of names) await writeFile(path.join(many, name), 'hi');
    const local = path.join(temp.path, 'fetched-many');
    await fetchFiles({ ...far(), path: many }, names, local, { ssh: session.options });
    expect((await readdir(path.join(local, 'cur'))).length).toBe(3000);
  });

  it('passes no link at all when nothing is vouched for: not even the home', async () => {
    const local = path.join(temp.path, 'fetched-untrusted');
    await fetchFiles(far(), ['home/bob/etc/real.example/shadow'], local, { ssh: session.options });
    expect(await readdir(local)).toEqual([]);
  });
});

describe('pushFiles over ssh', () => {
  it('refuses to write through etc/linked.example, and writes nothing behind it', async () => {
    const staged = path.join(temp.path, 'to-push');
    await mkdir(path.join(staged, 'home/bob/etc/linked.example'), { recursive: true });
    await writeFile(path.join(staged, 'home/bob/etc/linked.example/passwd'), 'alice:x:3001:3001::/home/bob/mail/linked.example/alice:/bin/false\n');
    const err = await pushFiles(staged, ['home/bob/etc/linked.example/passwd'], far(), { ssh: session.options, trusted: ['home/bob'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MailshiftError);
    expect((err as MailshiftError).code).toBe('MAILSHIFT_TARGET_NOT_DIR');
    expect(await readFile(path.join(system, 'passwd'), 'utf8')).toBe('root:x:0:0::/root:/bin/bash\n');
  });

  it('writes a file whose way down passes no link', async () => {
    // Into the home's real directory: rsync 3.4 and later refuse, on their own, to write through any link on the way.
    const staged = path.join(temp.path, 'to-push-real');
    await mkdir(path.join(staged, 'home2/bob/etc/real.example'), { recursive: true });
    await writeFile(path.join(staged, 'home2/bob/etc/real.example/passwd'), 'alice:x:3001:3001::/home/bob/mail/real.example/alice:/bin/false\n');
    await pushFiles(staged, ['home2/bob/etc/real.example/passwd'], { ...far(), path: temp.path }, { ssh: session.options, trusted: ['home2/bob'] });
    expect(await readFile(path.join(temp.path, 'home2/bob/etc/real.example/passwd'), 'utf8')).toBe('alice:x:3001:3001::/home/bob/mail/real.example/alice:/bin/false\n');
  });
});
