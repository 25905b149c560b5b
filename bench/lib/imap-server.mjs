// A Dovecot IMAP server on 127.0.0.1 for benchmarks: plaintext (loopback only), passwd-file users, Maildir under each
// user's home, mail_fsync=never (no peer pays for fsyncs the others skip), run as nobody. Started with `dovecot -F`
// and stopped with SIGTERM (SIGKILL of the tree after 5 s).
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { chownTreeSync, DOVECOT_GROUP, DOVECOT_USER, readDovecotIds } from './dovecot.mjs';

/** Pids below `pid` (by /proc, never by name). */
function descendants(pid) {
  const out = [];
  const stack = [pid];
  while (stack.length) {
    const current = stack.pop();
    let tasks = [];
    try {
      tasks = readdirSync(`/proc/${current}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        const text = readFileSync(`/proc/${current}/task/${tid}/children`, 'latin1').trim();
        for (const child of text ? text.split(' ').map(Number) : []) {
          out.push(child);
          stack.push(child);
        }
      } catch {
        // gone
      }
    }
  }
  return out;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function waitForGreeting(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const attempt = () => {
      if (Date.now() > deadline) return resolve(false);
      const socket = connect({ host: '127.0.0.1', port });
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk) => {
        text += chunk;
        if (/^\* OK .*ready/m.test(text)) {
          socket.destroy();
          resolve(true);
        }
      });
      socket.on('error', () => setTimeout(attempt, 50));
      socket.on('close', () => {});
    };
    attempt();
  });
}

/** `options.compress`: the server offers COMPRESS=DEFLATE (Dovecot's imap_zlib, as many hosting servers run it). */
export async function startBenchImapServer(dir, users, options = {}) {
  const ids = readDovecotIds();
  for (const sub of ['run', 'state', 'home']) mkdirSync(join(dir, sub), { recursive: true });
  const port = await freePort();
  const passwd = join(dir, 'passwd');
  writeFileSync(passwd, '');
  const accounts = {};
  for (const user of users) {
    const home = join(dir, 'home', user);
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(home, 'Maildir', sub), { recursive: true });
    appendFileSync(passwd, `${user}:{PLAIN}${user}-pw:${ids.uid}:${ids.gid}::${home}\n`);
    accounts[user] = { user, password: `${user}-pw`, home, maildir: join(home, 'Maildir') };
  }
  const conf = join(dir, 'dovecot.conf');
  writeFileSync(conf, [
    `base_dir = ${dir}/run`, `state_dir = ${dir}/state`, `log_path = ${dir}/dovecot.log`,
    'protocols = imap', 'listen = 127.0.0.1', `default_login_user = ${DOVECOT_USER}`,
    `default_internal_user = ${DOVECOT_USER}`, `default_internal_group = ${DOVECOT_GROUP}`, 'first_valid_uid = 1',
    'mail_location = maildir:~/Maildir', 'mail_fsync = never', 'auth_mechanisms = plain login',
    'ssl = no', 'disable_plaintext_auth = no', 'auth_failure_delay = 0',
    'protocol imap {', '  mail_max_userip_connections = 100', ...(options.compress ? ['  mail_plugins = $mail_plugins imap_zlib'] : []), '}',
    'passdb {', '  driver = passwd-file', `  args = scheme=PLAIN ${passwd}`, '}',
    'userdb {', '  driver = passwd-file', `  args = ${passwd}`, '}',
    'namespace inbox {', '  inbox = yes', '  separator = /', '}',
    'service imap-login {', '  chroot =', '  inet_listener imap {', '    address = 127.0.0.1', `    port = ${port}`, '  }',
    '  inet_listener imaps {', '    port = 0', '  }', '}',
    'service anvil {', '  chroot =', '  unix_listener anvil-auth-penalty {', '    mode = 0', '  }', '}', '',
  ].join('\n'));
  chownTreeSync(dir, ids.uid, ids.gid);
  const child = spawn('dovecot', ['-F', '-c', conf], { stdio: 'ignore' });
  if (!(await waitForGreeting(port, 15000))) {
    child.kill('SIGKILL');
    throw new Error(`dovecot did not start; see ${dir}/dovecot.log`);
  }
  return {
    port,
    accounts,
    conf,
    fixOwnership: () => chownTreeSync(join(dir, 'home'), ids.uid, ids.gid),
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      const timer = setTimeout(() => {
        for (const pid of descendants(child.pid)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        child.kill('SIGKILL');
      }, 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    }),
  };
}
