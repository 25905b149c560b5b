import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../e2e/cli.js';
import { startSshd, type Sshd } from '../../support/sshd.js';
import { makeTempDir, type TempDir } from '../../support/tmp.js';
import { writeTree } from '../../support/tree.js';

/** A first connection to a host whose key ssh does not know yet (BatchMode cannot ask): say how to accept it. */
let temp: TempDir;
let sshd: Sshd;

beforeAll(async () => {
  temp = await makeTempDir('ssh-host-key', { mode: 0o755 });
  await writeTree(path.join(temp.path, 'src'), { 'cur/1700000000.M1P1.host,S=20:2,S': 'Subject: one\n\nbody\n', 'new': { type: 'dir' }, 'tmp': { type: 'dir' } });
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
  await temp?.cleanup();
});

describe('an ssh host key that is not known yet', () => {
  it('copy, resync and verify point to --ssh-option StrictHostKeyChecking=accept-new', async () => {
    const unknownHost = ['--ssh-key', sshd.clientKeyPath, '--ssh-config', '/dev/null', '--ssh-option', 'StrictHostKeyChecking=yes', '--ssh-option', 'UserKnownHostsFile=/dev/null'];
    const remote = `ssh://root@127.0.0.1:${sshd.port}${path.join(temp.path, 'dst')}`;
    for (const command of ['copy', 'resync', 'verify']) {
      const result = await runCli([command, ...unknownHost, path.join(temp.path, 'src'), remote]);
      const output = result.stdout + result.stderr;
      expect(output, command).toMatch(/Host key verification failed/);
      expect(output, command).toMatch(/hint: .*--ssh-option StrictHostKeyChecking=accept-new/);
      expect(output, command).not.toMatch(/this is a bug in mailshift/);
      expect(result.code, `${command}: ${output}`).toBe(78);
    }
  });
});
