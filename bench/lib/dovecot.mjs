// A throwaway configuration for running doveadm standalone (no daemon) as a benchmark peer.
//
// Dovecot refuses to touch mail as root, so it runs as nobody:nogroup and everything it reads or writes must be
// theirs (test-servers.md). mail_fsync=never: the peers we compare with do not fsync per message either, and the
// issue asks for Dovecot's figures with it.
import { spawnSync } from 'node:child_process';
import { chownSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DOVECOT_USER = 'nobody';
export const DOVECOT_GROUP = 'nogroup';

function lookupId(args) {
  const out = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
  const id = Number(out.stdout?.trim().split(':')[2] ?? out.stdout?.trim());
  return Number.isInteger(id) ? id : null;
}

export function readDovecotIds() {
  return {
    uid: lookupId(['id', '-u', DOVECOT_USER]),
    gid: lookupId(['getent', 'group', DOVECOT_GROUP]),
  };
}

/** chown -R without following symlinks. */
export function chownTreeSync(path, uid, gid) {
  chownSync(path, uid, gid);
  if (!lstatSync(path).isDirectory()) return;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isSymbolicLink()) continue;
    chownTreeSync(child, uid, gid);
  }
}

export function buildDoveadmConfig(dir) {
  return [
    `base_dir = ${dir}/run`,
    `state_dir = ${dir}/state`,
    `log_path = ${dir}/dovecot.log`,
    `mail_uid = ${DOVECOT_USER}`,
    `mail_gid = ${DOVECOT_GROUP}`,
    'first_valid_uid = 1',
    'first_valid_gid = 1',
    'mail_fsync = never',
    'ssl = no',
    // Both sides of a backup need the same hierarchy separator.
    'namespace inbox {',
    '  inbox = yes',
    '  separator = /',
    '}',
    '',
  ].join('\n');
}

/**
 * Creates `dir` with a config, run/state/home directories owned by nobody, and returns
 * { confPath, home, env, doveadm(args) -> argv }.
 */
export function setupDoveadm(dir) {
  const ids = readDovecotIds();
  if (ids.uid === null || ids.gid === null) throw new Error(`no ${DOVECOT_USER}/${DOVECOT_GROUP} user on this machine`);
  for (const sub of ['run', 'state', 'home']) mkdirSync(join(dir, sub), { recursive: true });
  const confPath = join(dir, 'dovecot.conf');
  writeFileSync(confPath, buildDoveadmConfig(dir));
  chownTreeSync(dir, ids.uid, ids.gid);
  const env = { ...process.env, HOME: join(dir, 'home'), USER: 'bench' };
  return { confPath, home: join(dir, 'home'), env, ids, doveadm: (args) => ['doveadm', '-c', confPath, ...args] };
}
