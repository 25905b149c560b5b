import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImapServer, type ImapServer } from '../support/dovecot.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { seedAccount, seedMessages } from '../integration/imap/fixture.js';
import { runCli } from './cli.js';

/**
 * OAuth2 logins (`imaps://user;AUTH=XOAUTH2@host`, the access token where the password goes) against a real Dovecot
 * whose oauth2 passdb asks a token introspection endpoint run by this test (RFC 7662, POST), the way Dovecot checks
 * tokens of an identity provider. The endpoint records every token it is asked about: the copy must have logged in
 * with the token, not with a password.
 */

const goodToken = 'eyJ0eXAi.test-access-token.for-alice';
let server: ImapServer;
let introspection: Server;
const tokensSeen: string[] = [];
let work: TempDir;
let tokenFile: string;

const aliceUrl = (auth = 'XOAUTH2') => `imaps://alice;AUTH=${auth}@127.0.0.1:${server.port}`;

beforeAll(async () => {
  introspection = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const token = new URLSearchParams(body).get('token') ?? '';
      tokensSeen.push(token);
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(token === goodToken ? { active: true, username: 'alice' } : { active: false }));
    });
  });
  await new Promise<void>((resolve) => introspection.listen(0, '127.0.0.1', resolve));
  const { port } = introspection.address() as AddressInfo;
  work = await makeTempDir('imap-oauth2', { mode: 0o755 });
  const oauthConfig = path.join(work.path, 'oauth2.conf.ext');
  await writeFile(
    oauthConfig,
    ['introspection_mode = post', `introspection_url = http://127.0.0.1:${port}/introspect`, 'force_introspection = yes', 'username_attribute = username', 'active_attribute = active', 'active_value = true', ''].join('\n'),
    { mode: 0o644 },
  );
  server = await startImapServer({
    tls: 'implicit',
    users: ['alice'],
    // A second passdb for the token mechanisms only: a password login still goes to the passwd-file.
    extraConfig: ['auth_mechanisms = plain login xoauth2 oauthbearer', 'passdb {', '  driver = oauth2', '  mechanisms = xoauth2 oauthbearer', `  args = ${oauthConfig}`, '}'].join('\n'),
  });
  await seedAccount(server, 'alice');
  await writeFile(path.join(work.path, 'ca.pem'), server.caCertPem!);
  tokenFile = path.join(work.path, 'alice.token');
  await writeFile(tokenFile, `${goodToken}\n`, { mode: 0o600 });
});

afterAll(async () => {
  await server?.stop();
  await new Promise((resolve) => introspection?.close(resolve));
  await work?.cleanup();
});

const caArgs = () => ['--ca-file', path.join(work.path, 'ca.pem')];

describe('mailshift copy with an OAuth2 access token', () => {
  it('logs in with the token (--justlogin), and copies IMAP to a maildir with it', async () => {
    const login = await runCli(['copy', '--justlogin', aliceUrl(), path.join(work.path, 'unused'), ...caArgs(), '--password-file', tokenFile]);
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout).toMatch(/login ok \(OAuth2 access token\)/);
    expect(tokensSeen).toContain(goodToken);

    const maildir = path.join(work.path, 'maildir');
    const copy = await runCli(['--json', 'copy', aliceUrl('OAUTHBEARER'), maildir, ...caArgs(), '--password-file', tokenFile, '--state-dir', path.join(work.path, 'state')]);
    expect(copy.code, copy.stderr).toBe(0);
    expect(JSON.parse(copy.stdout).totals.copied).toBe(seedMessages.length);

    // The token is the account's secret like a password: verify reads it the same ways (here, the environment).
    const verify = await runCli(['--json', 'verify', aliceUrl(), maildir, ...caArgs()], { env: { MAILSHIFT_SOURCE_PASSWORD: goodToken } });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout).totals).toMatchObject({ sourceMessages: seedMessages.length, missing: 0 });
  });

  it('says a refused token may have expired (exit 78), and never prints it, even with --debug', async () => {
    const stale = 'eyJ0eXAi.expired-token-5150';
    const result = await runCli(['copy', aliceUrl(), path.join(work.path, 'refused'), ...caArgs(), '--debug'], { env: { MAILSHIFT_SOURCE_PASSWORD: stale } });
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/login to alice@127\.0\.0\.1:\d+ failed/);
    expect(result.stderr).toMatch(/access token.*expired/);
    expect(tokensSeen).toContain(stale);
    expect(result.stdout + result.stderr).not.toContain(stale);
  });

  it('asks for an access token, not a password, when none is given', async () => {
    const result = await runCli(['copy', aliceUrl(), path.join(work.path, 'none'), ...caArgs()], { env: { MAILSHIFT_SOURCE_PASSWORD: '', MAILSHIFT_IMAP_PASSWORD: '' } });
    expect(result.code).toBe(78);
    expect(result.stderr).toMatch(/no access token for the source IMAP account alice@127\.0\.0\.1/);
  });

  it('refuses a mechanism it cannot use (exit 2)', async () => {
    const result = await runCli(['copy', aliceUrl('GSSAPI'), path.join(work.path, 'gssapi')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot log in with ;AUTH=GSSAPI/);
  });
});
