import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImapServer, type ImapServer } from '../support/dovecot.js';
import { makeTempDir, type TempDir } from '../support/tmp.js';
import { seedAccount, seedMessages } from '../integration/imap/fixture.js';
import { startFaultyProxy, type FaultyProxy, type ProxyCommand } from '../integration/imap/faulty-proxy.js';
import { runCli } from './cli.js';

/**
 * OAuth2 logins (`imaps://user;AUTH=XOAUTH2@host`, the access token where the password goes) against a real Dovecot
 * whose oauth2 passdb asks a token introspection endpoint run by this test (RFC 7662, POST), the way Dovecot checks
 * tokens of an identity provider. The endpoint records every token it is asked about: the copy must have logged in
 * with the token, not with a password.
 */

const goodToken = 'eyJ0eXAi.test-access-token.for-alice';
/** The token the provider hands out after the first one, and whether the first one has been retired. */
const refreshedToken = 'eyJ0eXAi.refreshed-token.for-alice';
const firstToken = 'eyJ0eXAi.first-token.expires-after-one-login';
let isFirstTokenRetired = false;
let server: ImapServer;
let plainServer: ImapServer;
let proxy: FaultyProxy;
let refreshingTokenFile: string;
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
      let isActive = token === goodToken || token === refreshedToken;
      if (token === firstToken && !isFirstTokenRetired) {
        // The first login with it succeeds; meanwhile the provider's tool writes a new token into the file and the
        // old one expires: only a client that reads the file again can log in a second time.
        isActive = true;
        isFirstTokenRetired = true;
        void writeFile(refreshingTokenFile, `${refreshedToken}\n`, { mode: 0o600 });
      }
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(isActive ? { active: true, username: 'alice' } : { active: false }));
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
  // A second passdb for the token mechanisms only: a password login still goes to the passwd-file.
  const oauthPassdb = ['auth_mechanisms = plain login xoauth2 oauthbearer', 'passdb {', '  driver = oauth2', '  mechanisms = xoauth2 oauthbearer', `  args = ${oauthConfig}`, '}'].join('\n');
  [server, plainServer] = await Promise.all([
    startImapServer({ tls: 'implicit', users: ['alice'], extraConfig: oauthPassdb }),
    startImapServer({ tls: 'none', users: ['alice'], extraConfig: oauthPassdb }),
  ]);
  await Promise.all([seedAccount(server, 'alice'), seedAccount(plainServer, 'alice')]);
  // Cuts the first body download halfway: the copy has to log in again to finish.
  let bodyFetches = 0;
  proxy = await startFaultyProxy(plainServer.port, (command: ProxyCommand) => {
    if (command.name === 'UID FETCH' && /BODY\.PEEK\[\]/i.test(command.line) && ++bodyFetches === 1) return { kind: 'drop-after-bytes', bytes: 300 };
    return { kind: 'pass' };
  });
  refreshingTokenFile = path.join(work.path, 'refreshing.token');
  await writeFile(refreshingTokenFile, `${firstToken}\n`, { mode: 0o600 });
  await writeFile(path.join(work.path, 'ca.pem'), server.caCertPem!);
  tokenFile = path.join(work.path, 'alice.token');
  await writeFile(tokenFile, `${goodToken}\n`, { mode: 0o600 });
});

afterAll(async () => {
  await proxy?.close();
  await Promise.all([server?.stop(), plainServer?.stop()]);
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

  it('reads the token file again for a new connection: a token refreshed in place carries a cut-off copy on', async () => {
    const maildir = path.join(work.path, 'refreshed');
    const copy = await runCli(['--json', 'copy', `imap://alice;AUTH=XOAUTH2@127.0.0.1:${proxy.port}`, maildir, '--password-file', refreshingTokenFile, '--state-dir', path.join(work.path, 'state-refresh')]);
    expect(copy.code, copy.stderr).toBe(0);
    expect(JSON.parse(copy.stdout).totals.copied).toBe(seedMessages.length);
    expect(proxy.connections).toBeGreaterThan(1);
    expect(isFirstTokenRetired).toBe(true);
    expect(tokensSeen).toContain(refreshedToken);
    expect(copy.stdout + copy.stderr).not.toContain(refreshedToken);
  });

  it('refuses a mechanism it cannot use (exit 2)', async () => {
    const result = await runCli(['copy', aliceUrl('GSSAPI'), path.join(work.path, 'gssapi')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/cannot log in with ;AUTH=GSSAPI/);
  });
});
