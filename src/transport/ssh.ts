/**
 * ssh as a transport: argv for the ssh client, the `-e` string rsync wants, and remote commands quoted for the remote
 * shell. Pure. Knows nothing about mail.
 *
 * Why quoting at all: ssh joins its remote command arguments with spaces and hands the result to the remote user's
 * shell. Every remote argument therefore goes through `quoteForShell` (POSIX single quotes), so a path such as
 * `.$(touch x)` reaches the remote program as that literal string.
 */

export interface SshEndpoint {
  readonly host: string;
  readonly user?: string;
  readonly port?: number;
}

export interface SshOptions {
  /** Private key file (`--ssh-key`). */
  readonly keyFile?: string;
  /** Extra `-o KEY=VALUE` options, e.g. for a throwaway known_hosts in tests. */
  readonly options?: readonly string[];
  /** Seconds without an answer before ssh declares the connection dead (ServerAliveInterval x CountMax). */
  readonly aliveIntervalS?: number;
  readonly connectTimeoutS?: number;
  /** ssh -F: a config file instead of ~/.ssh/config (tests pass /dev/null). */
  readonly configFile?: string;
  /**
   * A ControlMaster socket path: every ssh of one run shares one authenticated connection (an ssh login costs about
   * half a second; a cPanel account copy makes dozens of calls). See hosts/ssh-session.ts.
   */
  readonly controlPath?: string;
}

/** The ssh program and its options, without the destination (rsync adds it), in the order ssh documents. */
export function buildSshCommand(options: SshOptions = {}, port?: number): string[] {
  const argv = ['ssh'];
  if (options.configFile !== undefined) argv.push('-F', options.configFile);
  if (port !== undefined) argv.push('-p', String(port));
  if (options.keyFile !== undefined) argv.push('-i', options.keyFile, '-o', 'IdentitiesOnly=yes');
  // Never prompt: a password prompt would hang a batch run, and passwords must not be typed into our child.
  argv.push('-o', 'BatchMode=yes');
  const alive = options.aliveIntervalS ?? 15;
  argv.push('-o', `ServerAliveInterval=${alive}`, '-o', 'ServerAliveCountMax=3');
  argv.push('-o', `ConnectTimeout=${options.connectTimeoutS ?? 20}`);
  if (options.controlPath !== undefined) {
    // ControlPersist is a safety net only: the session closes the master explicitly when the run ends.
    argv.push('-o', 'ControlMaster=auto', '-o', `ControlPath=${options.controlPath}`, '-o', 'ControlPersist=60');
  }
  for (const option of options.options ?? []) argv.push('-o', checkSshOption(option));
  return argv;
}

/** Full argv to run `remoteArgv` on the endpoint: ssh [options] [-l user] -- host 'arg1' 'arg2' ... */
export function buildSshRemoteArgv(endpoint: SshEndpoint, remoteArgv: readonly string[], options: SshOptions = {}): string[] {
  const argv = buildSshCommand(options, endpoint.port);
  if (endpoint.user !== undefined) argv.push('-l', endpoint.user);
  argv.push('--', endpoint.host, formatRemoteCommand(remoteArgv));
  return argv;
}

/** Joins argv into one command line for the remote POSIX shell, every word single-quoted. */
export function formatRemoteCommand(remoteArgv: readonly string[]): string {
  if (remoteArgv.length === 0) throw new Error('empty remote command');
  return remoteArgv.map(quoteForShell).join(' ');
}

/** POSIX shell single quoting: the only character that needs care inside '...' is ' itself. */
export function quoteForShell(word: string): string {
  if (word.includes('\u0000')) throw new Error('a shell word cannot contain a NUL byte');
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * rsync takes its remote shell as ONE string (`-e`) and splits it itself: on spaces, honouring single and double
 * quotes but not backslashes (rsync(1), --rsh). So each word is wrapped in the quote it does not contain; a word
 * containing both kinds cannot be expressed and is refused.
 */
export function formatRsyncRsh(argv: readonly string[]): string {
  return argv
    .map((word) => {
      if (word !== '' && !/[\s'"\\]/.test(word)) return word;
      if (!word.includes("'")) return `'${word}'`;
      if (!word.includes('"')) return `"${word}"`;
      throw new Error(`cannot pass "${word}" to rsync's --rsh: it contains both quote characters`);
    })
    .join(' ');
}

/** `user@host` as ssh and rsync write it; IPv6 in brackets for rsync's host:path syntax. */
export function formatRsyncHost(endpoint: SshEndpoint): string {
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return endpoint.user !== undefined ? `${endpoint.user}@${host}` : host;
}

function checkSshOption(option: string): string {
  // -o takes KEY=VALUE (or "KEY VALUE"); a leading '-' would be a new ssh option, a newline a second config line.
  if (!/^[A-Za-z][A-Za-z0-9]*[= ]/.test(option) || /[\r\n\u0000]/.test(option)) {
    throw new Error(`not an ssh option: ${option} (expected KEY=VALUE)`);
  }
  return option;
}
