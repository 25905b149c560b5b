import { ExitCode, type ExitCodeValue } from './exit-codes.js';

/*
 * Every error code mailshift throws, in one table: what it means, the exit code a run usually ends with because of it,
 * and the hints a user gets with it, as the throw sites give them (a word in capitals stands for what the message
 * fills in). `MailshiftError` takes only a key of this table, so a new code cannot be thrown before it is written here,
 * and docs/errors.md is generated from it (`npm run docs:errors`; a unit test fails when the file is out of date).
 * Keys stay in alphabetical order. Over 400 lines because it is one table, a code a few lines: splitting it by area
 * would scatter what is meant to be read (and checked) in one place.
 */

export interface ErrorCodeEntry {
  /** What went wrong, for someone who sees the code in a report or in `--json`. */
  readonly meaning: string;
  /**
   * The exit code a run usually ends with because of this error. A message-level error does not stop the run: the
   * message is skipped and listed, and the run ends with 3 (partial).
   */
  readonly exitCode: ExitCodeValue;
  /** The hints shown under the message, one per situation the throw sites tell apart; empty when there is none. */
  readonly hints: readonly string[];
}

const rsyncHints = [
  "the hint mailshift gives for rsync's exit status, for example: the target filesystem is full (or over quota); free space and run again (nothing is written twice)",
];

export const errorCodes = {
  MAILSHIFT_ARCHIVE_CORRUPT: {
    meaning: 'A cPanel backup (cpmove archive) ends early or holds bytes that are not tar: the restore stopped there. Every message restored before that point is complete.',
    exitCode: ExitCode.failed,
    hints: ['everything restored before this point is complete and stays; get an intact copy of the backup and run the same command again (nothing is added twice)'],
  },
  MAILSHIFT_ARCHIVE_NO_MAILBOX: {
    meaning: 'A restore from a cPanel backup names a mailbox the backup does not hold, or restores into one maildir without naming which mailbox.',
    exitCode: ExitCode.usage,
    hints: ['name one mailbox: cpmove:ARCHIVE#local@domain (mailshift discover ARCHIVE lists them)'],
  },
  MAILSHIFT_ARCHIVE_TARGET: {
    meaning: 'A cPanel backup can be restored into a cPanel root or a maildir (here or over ssh), and this target is neither; or the archive an export would write exists already (an export never writes over a file).',
    exitCode: ExitCode.usage,
    hints: ['restore into a cPanel root (cpanel:ROOT#USER) or a maildir, then copy from there', 'choose a new file name'],
  },
  MAILSHIFT_BAD_REF: {
    meaning: 'A message reference handed to a store is not one of its messages (a mailshift bug, or a state file from elsewhere).',
    exitCode: ExitCode.failed,
    hints: [],
  },
  MAILSHIFT_BYTE_BUDGET: {
    meaning: 'The run moved the bytes --max-bytes allows and stopped there; everything copied so far is recorded.',
    exitCode: ExitCode.tempFail,
    hints: ['everything copied so far is recorded; run the same command again (tomorrow, for a daily limit) to continue'],
  },
  MAILSHIFT_CAMPAIGN_LOCKED: {
    meaning: 'Another mailshift process is running a campaign in this campaign directory (its lock file names it).',
    exitCode: ExitCode.tempFail,
    hints: ['wait for it to finish (or stop it with Ctrl-C); if that process is gone, delete the lock file the message names'],
  },
  MAILSHIFT_CAMPAIGN_PLAN: {
    meaning: 'The campaign plan has problems (each listed with its line number): nothing was started.',
    exitCode: ExitCode.usage,
    hints: ['fix the lines listed (mailshift plan --check PLAN lists them again) and run the same command'],
  },
  MAILSHIFT_CAMPAIGN_STATE: {
    meaning: "The campaign's state database cannot be opened or read (not a mailshift campaign, a newer schema, a damaged file).",
    exitCode: ExitCode.config,
    hints: ['give the campaign directory this plan was run in (--dir), or a new one to start afresh'],
  },
  MAILSHIFT_CA_FILE: {
    meaning: 'The file given with --ca-file cannot be read, or holds no PEM certificate.',
    exitCode: ExitCode.config,
    hints: [],
  },
  MAILSHIFT_CHOWN_NO_MAIL_GROUP: {
    meaning: 'chown: the group "mail" is neither in the cPanel root\'s etc/group nor in the target machine\'s /etc/group.',
    exitCode: ExitCode.config,
    hints: ['pass --mail-gid N (cPanel gives ~/etc and the routing tables to group mail)'],
  },
  MAILSHIFT_CHOWN_NO_USER: {
    meaning: "chown: the account's user is neither in the cPanel root's etc/passwd nor in the target machine's /etc/passwd.",
    exitCode: ExitCode.config,
    hints: ['create the cPanel account on the target first, or pass --uid N --gid N'],
  },
  MAILSHIFT_COPY_FAILED: {
    meaning: 'A folder could not be copied message by message, for a reason the store did not classify; the other folders go on.',
    exitCode: ExitCode.failed,
    hints: [],
  },
  MAILSHIFT_COPY_MARKER: {
    meaning: "The name of a copy job's marker in the target (mailshift-copy-in-progress, which records that rsync may be writing there) is taken by a link, a directory or another non-file; nothing is written through it and nothing is removed.",
    exitCode: ExitCode.failed,
    hints: ['move away what holds the name (mailshift never puts anything but a small regular file there), then run again'],
  },
  MAILSHIFT_CPANEL_DOMAIN_UNKNOWN: {
    meaning: "A cPanel mailbox spec (cpanel:ROOT#local@domain) names a domain no account owns in the root's etc/userdomains.",
    exitCode: ExitCode.config,
    hints: ['check the domain name and the cPanel root', 'create the domain on the target server first (cPanel: add it to the account), then copy'],
  },
  MAILSHIFT_CPANEL_HOME_OUTSIDE: {
    meaning: "A cPanel account's home directory (from etc/passwd) lies outside the cPanel root; it is never followed there.",
    exitCode: ExitCode.config,
    hints: [],
  },
  MAILSHIFT_CPANEL_NO_ACCOUNT: {
    meaning: 'No cPanel account of that name under the root.',
    exitCode: ExitCode.failed,
    hints: ['accounts found: USER, USER, … (at most 20), or none'],
  },
  MAILSHIFT_CPANEL_NO_MAIL: {
    meaning: "A cPanel account's mail directory (HOME/mail) does not exist.",
    exitCode: ExitCode.config,
    hints: ['check the cPanel root and the user name'],
  },
  MAILSHIFT_CPANEL_ROOT: {
    meaning: 'The cPanel root cannot be opened.',
    exitCode: ExitCode.failed,
    hints: ['pass the directory that holds etc/, home/ and var/cpanel/ (/ on the server itself)'],
  },
  MAILSHIFT_DISCOVER_NOT_CPANEL: {
    meaning: 'discover: the root has no `var/cpanel/users`, no `etc/userdomains` and no `home/*/etc/*/passwd`.',
    exitCode: ExitCode.usage,
    hints: ['point discover at the root of the server (or of a mounted copy of it)'],
  },
  MAILSHIFT_DISCOVER_NO_ACCOUNT: {
    meaning: 'discover: an account asked for by name is not on the server.',
    exitCode: ExitCode.usage,
    hints: ['accounts found: USER, USER, … (at most 20), or none'],
  },
  MAILSHIFT_DISCOVER_ROOT: {
    meaning: 'discover: the root directory cannot be read.',
    exitCode: ExitCode.usage,
    hints: ['pass the directory that holds etc/, home/ and var/cpanel/ of the cPanel server (/ on the server itself)'],
  },
  MAILSHIFT_EMPTY_PASSWORD: {
    meaning: 'The password (or access token) read from a file, standard input or the environment is empty.',
    exitCode: ExitCode.config,
    hints: ['put the password on the first line of the file (a trailing newline is fine)'],
  },
  MAILSHIFT_EXEC_FAILED: {
    meaning: 'A program mailshift runs (ssh, find, mkdir, …) cannot be started on this machine.',
    exitCode: ExitCode.config,
    hints: ['install the OpenSSH client', 'install COMMAND'],
  },
  MAILSHIFT_EXPORT_INCOMPLETE: {
    meaning: 'An export of an IMAP account could not read everything the account holds (a message the server cannot serve, a folder it cannot open, a folder renumbered meanwhile): no archive was written, so none can be taken for a complete backup. Each message or folder is listed with its reason before this error.',
    exitCode: ExitCode.partial,
    hints: [
      'each one is listed above with its reason; once the server serves them, run the same export again. To keep what can be read: mailshift copy SOURCE MAILDIR (it copies the rest and lists what it cannot), then mailshift export MAILDIR ARCHIVE --mailbox local@domain',
      'the server renumbered the folder; run the export again',
    ],
  },
  MAILSHIFT_FOLDER_UNREADABLE: {
    meaning: 'A folder of the source cannot be read (permission denied); it is never left out quietly.',
    exitCode: ExitCode.config,
    hints: [
      'run mailshift as root or as the mailbox owner, or make the folder readable (chmod u+rx), then run again',
      'log in as root or as the mailbox owner, or make the folder readable (chmod u+rx), then run again',
    ],
  },
  MAILSHIFT_IMAP_AUTH: {
    meaning: 'The IMAP server refused the login (user name, password or access token).',
    exitCode: ExitCode.config,
    hints: [
      'check the user name and the password (--password-file or the environment); Microsoft 365 takes only OAuth2 (imaps://user;AUTH=XOAUTH2@host with an access token where the password goes), Gmail an app password or OAuth2',
      'the server refused the access token: check the user name and that the token is for IMAP (scope) and not expired (they last about an hour); a copy cut short by an expired token goes on where it stopped when run again with a fresh one',
    ],
  },
  MAILSHIFT_IMAP_CLOSED: {
    meaning: "An IMAP connection was closed after an error while a folder was in use (or the store was already closed); the folder is tried again later.",
    exitCode: ExitCode.tempFail,
    hints: [],
  },
  MAILSHIFT_IMAP_CONNECT: {
    meaning: 'No IMAP connection could be made; exit 75 when the server did not answer or closed the connection, 1 otherwise.',
    exitCode: ExitCode.tempFail,
    hints: ['the server did not answer or closed the connection; run the same command again later'],
  },
  MAILSHIFT_IMAP_CONNECTION: {
    meaning: 'The IMAP connection broke during a command; the folder is tried again with a back-off.',
    exitCode: ExitCode.tempFail,
    hints: [],
  },
  MAILSHIFT_IMAP_FAILED: {
    meaning: 'The IMAP server refused a command, or it could not be sent, for a reason it did not classify.',
    exitCode: ExitCode.failed,
    hints: [],
  },
  MAILSHIFT_IMAP_FOLDER_NAME: {
    meaning: 'A folder cannot be named on the IMAP server: a level of its name is empty, "." or "..", or holds control characters, or the name falls in the server\'s namespace of other users\' or shared folders.',
    exitCode: ExitCode.failed,
    hints: [],
  },
  MAILSHIFT_IMAP_INCOMPLETE: {
    meaning: 'The IMAP server did not send the bodies of messages it still has; the folder is tried again later.',
    exitCode: ExitCode.tempFail,
    hints: [],
  },
  MAILSHIFT_IMAP_MESSAGE: {
    meaning: 'The IMAP server refused one message ([CANNOT], [PARSE], [CORRUPTION], [SERVERBUG], or content it will not take); it is skipped and listed.',
    exitCode: ExitCode.partial,
    hints: [],
  },
  MAILSHIFT_IMAP_NONEXISTENT: {
    meaning: 'The IMAP server says the folder does not exist ([NONEXISTENT]).',
    exitCode: ExitCode.failed,
    hints: [],
  },
  MAILSHIFT_IMAP_NOT_TLS: {
    meaning: 'An imaps:// URL names a port that does not speak TLS from the first byte (it answered in plain text).',
    exitCode: ExitCode.config,
    hints: ["use imap://USER@HOST:PORT (mailshift upgrades it with STARTTLS), or imaps:// on the server's TLS port (usually 993)"],
  },
  MAILSHIFT_IMAP_NO_BODY: {
    meaning: 'The IMAP server answers some messages with no content; the rest of the folder is copied and these are reported on every run.',
    exitCode: ExitCode.failed,
    hints: ['the message is probably damaged on the server; ask its administrator, or move it aside and run again'],
  },
  MAILSHIFT_IMAP_OVERQUOTA: {
    meaning: 'The target IMAP mailbox is over its quota.',
    exitCode: ExitCode.failed,
    hints: ['the target mailbox is full: raise its quota and run the same command again (nothing is copied twice)'],
  },
  MAILSHIFT_IMAP_THROTTLED: {
    meaning: 'The IMAP server is throttling this account (a login or a command refused for now); retried with a back-off.',
    exitCode: ExitCode.tempFail,
    hints: [
      'the server is busy or throttling this account (not a wrong password); mailshift retries with a back-off, and a run that gave up can be run again later to continue',
    ],
  },
  MAILSHIFT_IMAP_TLS: {
    meaning: 'TLS with the IMAP server failed (certificate not trusted, handshake refused), or the server offers no STARTTLS on imap://.',
    exitCode: ExitCode.config,
    hints: [
      'trust the server certificate with --ca-file FILE; --insecure turns verification off (only if you know why)',
      'use imaps:// (port 993) if the server has it; --insecure allows a cleartext login',
    ],
  },
  MAILSHIFT_IMAP_TOO_BIG: {
    meaning: 'The target IMAP server refused a message as too big; it is skipped and listed.',
    exitCode: ExitCode.partial,
    hints: [],
  },
  MAILSHIFT_IMAP_UNAVAILABLE: {
    meaning: 'The IMAP server is busy or the mailbox is in use ([UNAVAILABLE], [INUSE], [LIMIT]); retried with a back-off.',
    exitCode: ExitCode.tempFail,
    hints: [
      'the server is busy or throttling this account (not a wrong password); mailshift retries with a back-off, and a run that gave up can be run again later to continue',
    ],
  },
  MAILSHIFT_INTERNAL: {
    meaning: 'An error mailshift did not expect: a bug.',
    exitCode: ExitCode.failed,
    hints: ['this is a bug in mailshift; run again with --debug and report the output'],
  },
  MAILSHIFT_INTERRUPTED: {
    meaning: 'The run was interrupted (Ctrl-C, SIGTERM); everything written so far is complete.',
    exitCode: ExitCode.interrupted,
    hints: ['everything written so far is complete; run the same command again to continue'],
  },
  MAILSHIFT_LIST_FAILED: {
    meaning: 'resync: a directory of a maildir cannot be listed, for a reason other than permissions (those are reported as an incomplete listing).',
    exitCode: ExitCode.failed,
    hints: [],
  },
  MAILSHIFT_MAILBOX_MISSING: {
    meaning: 'A folder asked for by name is not in the store.',
    exitCode: ExitCode.failed,
    hints: [],
  },
  MAILSHIFT_MAILDIR_MISSING: {
    meaning: 'A maildir cannot be opened or read (it does not exist, or is not a directory).',
    exitCode: ExitCode.config,
    hints: [],
  },
  MAILSHIFT_MAILDIR_NAME_CLASH: {
    meaning: "A message file's name is not UTF-8 and reads as the name of another file in the same folder; it is skipped and listed.",
    exitCode: ExitCode.partial,
    hints: ['rename the file (its bytes are the problem), then run again'],
  },
  MAILSHIFT_MBOX_BAD_MESSAGE: {
    meaning: 'A message of an mbox cannot be read (cut off, or no message where one should start); it is skipped and listed.',
    exitCode: ExitCode.partial,
    hints: ['the rest of the mbox is copied; repair or re-export the file if you need this message'],
  },
  MAILSHIFT_MESSAGE_GONE: {
    meaning: 'A message was expunged from the source between listing and reading; there is nothing left to copy, so it is left out.',
    exitCode: ExitCode.ok,
    hints: [],
  },
  MAILSHIFT_MISSING_SOURCE: {
    meaning: 'The local source is not an existing directory (checked before any work starts).',
    exitCode: ExitCode.config,
    hints: ['check the source path'],
  },
  MAILSHIFT_MISSING_TARGET: {
    meaning: 'A local target that must already exist is not an existing directory (checked before any work starts).',
    exitCode: ExitCode.config,
    hints: ['check the target path'],
  },
  MAILSHIFT_MKDIR_FAILED: {
    meaning: 'resync cannot create folders on the remote host.',
    exitCode: ExitCode.failed,
    hints: [],
  },
  MAILSHIFT_NO_PASSWORD: {
    meaning: 'A password (or access token) is needed and none was given.',
    exitCode: ExitCode.config,
    hints: ['use --password-file FILE, --password-file - (standard input) or set VARIABLE; a password is never taken from the command line'],
  },
  MAILSHIFT_PASSWORD_FILE: {
    meaning: 'The password file cannot be read, or is not a regular file.',
    exitCode: ExitCode.config,
    hints: ['use a plain file (mode 0600), or "-" to read the password from standard input'],
  },
  MAILSHIFT_QUEUE_UNREACHABLE: {
    meaning: 'The Redis server given with --queue does not answer (a campaign on the queue, or mailshift worker, cannot start).',
    exitCode: ExitCode.tempFail,
    hints: ['start Redis (or check the host, port and MAILSHIFT_REDIS_PASSWORD) and run the same command again'],
  },
  MAILSHIFT_READ_ONLY: {
    meaning: 'A write to a store or folder opened for reading (an mbox store is always read only).',
    exitCode: ExitCode.failed,
    hints: ['copy into a maildir or an IMAP account; `mailshift convert` turns mbox into a maildir'],
  },
  MAILSHIFT_REMOTE_READ: {
    meaning: 'A small system file (etc/passwd, etc/userdomains, …) cannot be read on the remote host.',
    exitCode: ExitCode.failed,
    hints: [],
  },
  MAILSHIFT_REMOTE_REMOVE: {
    meaning: 'Files or a temporary directory mailshift made on the remote host cannot be removed (rsync partials, a staging directory).',
    exitCode: ExitCode.failed,
    hints: [],
  },
  MAILSHIFT_REMOTE_WRITE: {
    meaning: 'A small file (a control file, a merged account file) cannot be written on the remote host; nothing was half-written (written to a temporary name, then renamed).',
    exitCode: ExitCode.failed,
    hints: [],
  },
  MAILSHIFT_REPORT_WRITE: {
    meaning: "The campaign report (report.json, accounts.csv, failures.csv, report.html) cannot be written in the campaign directory's report/ folder; the campaign's state is unaffected.",
    exitCode: ExitCode.failed,
    hints: ['make the campaign directory writable (or free space on its disk) and run mailshift report PLAN: the campaign itself is unaffected'],
  },
  MAILSHIFT_RESYNC_NO_SOURCE: {
    meaning: 'resync: the source directory does not exist.',
    exitCode: ExitCode.config,
    hints: ['check the source path'],
  },
  MAILSHIFT_RESYNC_NO_TARGET: {
    meaning: 'resync: the target directory does not exist (resync catches up after a copy; it does not make the first one).',
    exitCode: ExitCode.config,
    hints: ['resync catches up after a copy; run mailshift copy first'],
  },
  MAILSHIFT_RSYNC_FAILED: {
    meaning: 'rsync failed while moving small control files; exit 75 when rsync says a retry can help, 78 for a configuration problem.',
    exitCode: ExitCode.failed,
    hints: rsyncHints,
  },
  MAILSHIFT_RSYNC_MISSING: {
    meaning: 'rsync cannot be run on this machine.',
    exitCode: ExitCode.config,
    hints: ['install rsync (apt-get install rsync / dnf install rsync) on this machine and on the remote one'],
  },
  MAILSHIFT_SOURCE_CHANGED: {
    meaning: 'The source changed while it was read (an mbox rewritten, an IMAP folder whose UIDVALIDITY changed): run again.',
    exitCode: ExitCode.sourceChanged,
    hints: [
      'a mail client or the server rewrote it during the copy; run the same command again (messages already copied are recognised on the target and not copied twice)',
    ],
  },
  MAILSHIFT_SOURCE_DBOX: {
    meaning: 'The source is a Dovecot dbox store, which file-level copy, resync, verify and watch cannot read; refused before anything is copied.',
    exitCode: ExitCode.config,
    hints: [
      'copy it over IMAP: add --imap-fallback imaps://user@host (password from --password-file or MAILSHIFT_SOURCE_PASSWORD), or convert it to maildir on the server first (doveadm sync, cPanel convert_mdbox_to_maildir)',
      'watch follows maildir files; for a dbox store run `mailshift resync` with --imap-fallback imaps://user@host now and then instead',
      'verify over IMAP instead: give the source as imaps://user@host (the server that serves this mailbox)',
    ],
  },
  MAILSHIFT_SOURCE_IS_MAILDIR: {
    meaning: 'convert was given a maildir as its source.',
    exitCode: ExitCode.failed,
    hints: ['maildirs are copied, not converted: use `mailshift copy SOURCE TARGET`'],
  },
  MAILSHIFT_SOURCE_MISSING: {
    meaning: 'The mbox source cannot be opened or read.',
    exitCode: ExitCode.failed,
    hints: ['give an mbox file, a .gz of one, or a directory of mbox files'],
  },
  MAILSHIFT_SOURCE_NOT_MBOX: {
    meaning: 'The source is not an mbox: neither a file nor a directory, or no "From " separator line in its first 64 KB.',
    exitCode: ExitCode.failed,
    hints: [
      'give an mbox file, a .gz of one, or a directory of mbox files',
      'give an mbox file (messages separated by "From sender date" lines), a .gz of one, or a directory of them',
    ],
  },
  MAILSHIFT_SOURCE_OPEN: {
    meaning: 'An mbox file cannot be opened (permission denied, or it is a symbolic link, which is never followed).',
    exitCode: ExitCode.failed,
    hints: ['run as a user that can read the source', 'symbolic links in the source are never followed'],
  },
  MAILSHIFT_SOURCE_READ: {
    meaning: 'An mbox file (or its .gz) cannot be read to the end.',
    exitCode: ExitCode.failed,
    hints: ['the .gz file is damaged or cut off; re-create it or give the uncompressed mbox', 'check the file and its disk'],
  },
  MAILSHIFT_SSH_FAILED: {
    meaning: 'ssh to the remote host failed; exit 75 when the connection failed (run again), 78 when ssh refused (key, user, host key).',
    exitCode: ExitCode.tempFail,
    hints: [
      'the connection failed; check the host and port, then run again',
      'check the host, port and key (--ssh-key), and that the server is reachable',
      "ssh does not know this host's key: connect once with ssh by hand and check the fingerprint, or add --ssh-option StrictHostKeyChecking=accept-new to accept a host seen for the first time",
      "the host's key differs from the one in known_hosts: make sure it is the right server, then remove the old key (ssh-keygen -R HOST)",
      'check the host name',
      'check the user, the key (--ssh-key) and the host key; try the same ssh by hand',
    ],
  },
  MAILSHIFT_TARGET_FULL: {
    meaning: 'The target filesystem is full or over quota.',
    exitCode: ExitCode.failed,
    hints: ['the target filesystem is full (or over quota); free space and run again (nothing is written twice)'],
  },
  MAILSHIFT_TARGET_MKDIR: {
    meaning: 'copy cannot create the target directory (locally or on the remote host).',
    exitCode: ExitCode.failed,
    hints: [],
  },
  MAILSHIFT_TARGET_NOT_DIR: {
    meaning: 'The target, a part of its path, or a folder inside it exists and is not a directory; nothing is written through it.',
    exitCode: ExitCode.config,
    hints: [
      'the target must be a maildir directory (or a path where one can be created); check the path',
      'a part of the target path is not a directory; check the path',
    ],
  },
  MAILSHIFT_TARGET_NOT_WRITABLE: {
    meaning: 'The target is not writable: permission denied.',
    exitCode: ExitCode.config,
    hints: ['run as a user who may write there (or fix the owner and mode of the target), then run again'],
  },
  MAILSHIFT_TARGET_READ_ONLY: {
    meaning: 'The target is on a read-only filesystem.',
    exitCode: ExitCode.config,
    hints: ['remount the target filesystem read-write (or choose another target), then run again; nothing was written'],
  },
  MAILSHIFT_TARGET_UIDLIST: {
    meaning: "A target folder's dovecot-uidlist cannot be read; it is never overwritten.",
    exitCode: ExitCode.failed,
    hints: ['the target folder has a dovecot-uidlist we cannot read, and we never overwrite one; move it aside or convert into an empty target'],
  },
  MAILSHIFT_TARGET_UNWRITABLE: {
    meaning: 'The target cannot be written, for a reason other than permissions, a read-only or full filesystem, or a file in the way.',
    exitCode: ExitCode.failed,
    hints: ['check the target directory and run again'],
  },
  MAILSHIFT_TIMEOUT: {
    meaning: 'The account did not finish within --timeout; everything copied so far is recorded.',
    exitCode: ExitCode.tempFail,
    hints: ['everything copied so far is recorded; run the same command again to continue (or raise --timeout)'],
  },
  MAILSHIFT_UNSAFE_FOLDER: {
    meaning: "A folder's name would place it outside the target; it is not written.",
    exitCode: ExitCode.failed,
    hints: [],
  },
  MAILSHIFT_UNSAFE_TARGET: {
    meaning: 'A directory of the target is a file or a symbolic link; mailshift never writes through links.',
    exitCode: ExitCode.failed,
    hints: ['mailshift never writes through links in the target; remove or rename it and run again'],
  },
  MAILSHIFT_USAGE: {
    meaning: 'The command line is wrong: an unknown or conflicting option, a bad value, a store spec that cannot be parsed.',
    exitCode: ExitCode.usage,
    hints: ['says what to write instead, for example: write ssh://host/absolute/path'],
  },
  MAILSHIFT_VERIFY_NO_TARGET: {
    meaning: 'verify: the target does not exist (or is not a maildir).',
    exitCode: ExitCode.config,
    hints: ['check the target path; if nothing was copied yet, run mailshift copy first'],
  },
  MAILSHIFT_WATCH_RSYNC: {
    meaning: 'watch: rsync reported a configuration problem, which a retry cannot fix.',
    exitCode: ExitCode.config,
    hints: rsyncHints,
  },
  MAILSHIFT_WRITE_FAILED: {
    meaning: 'The maildir writer cannot write a message file.',
    exitCode: ExitCode.failed,
    hints: ['the target filesystem is full; free space and run again (nothing is written twice)', 'check the target directory and run again (nothing is written twice)'],
  },
} as const satisfies Record<`MAILSHIFT_${string}`, ErrorCodeEntry>;

/** A code `MailshiftError` may carry: a key of the documented table. */
export type ErrorCode = keyof typeof errorCodes;

/** What each exit code means, for the docs (the README's exit-code table says the same). */
export const exitCodeMeanings: { readonly [K in ExitCodeValue]: string } = {
  [ExitCode.ok]: 'done',
  [ExitCode.failed]: 'failed (the message says what and where, the hint what to do); also the target filled up (a full disk or quota)',
  [ExitCode.usage]: 'usage error',
  [ExitCode.partial]:
    'partial: some items were skipped (each is listed with its reason), unsafe items were found or left behind, or `verify` could not compare a folder',
  [ExitCode.differences]: 'verify found differences',
  [ExitCode.sourceChanged]: 'the source changed during the run: run again',
  [ExitCode.tempFail]: 'temporary failure (network, server busy or throttling, also when it is all that stopped some folders): run again to continue',
  [ExitCode.config]: 'configuration problem (for example rsync missing, a wrong password, a target that is read-only or a file)',
  [ExitCode.interrupted]: 'interrupted (Ctrl-C); everything written so far is complete',
};
