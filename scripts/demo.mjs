#!/usr/bin/env node
// `npm run demo`: the main job on a sample server. Generates a small cPanel server (five accounts: maildir ones, a
// legacy mbox one, one too big for the new server's quota, one with a symlink pointing out of its maildir), plans its
// migration to a second root, runs the campaign (prestage copy, cutover resync, verify) and ends with the path of
// the report a customer can read. Everything lands in demo-output/; nothing outside it is touched, no root needed.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const cli = path.join(root, 'dist/bin/mailshift.js');
const out = 'demo-output';
rmSync(path.join(root, out), { recursive: true, force: true });
mkdirSync(path.join(root, out));

/** Runs a step from the checkout (so paths print relative to it) and returns its exit code. */
const run = (label, command, args, expected = [0], shown = args) => {
  console.log(`\n$ ${label} ${shown.map((arg) => (path.isAbsolute(arg) ? path.relative(root, arg) : arg)).join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (!expected.includes(result.status)) {
    console.error(`demo: ${label} ended with exit code ${result.status}, expected ${expected.join(' or ')}`);
    process.exit(1);
  }
  return result.status;
};
const mailshift = (args, expected) => run('mailshift', process.execPath, [cli, ...args], expected, args);

console.log('1. A sample cPanel server, generated: five accounts (see fixtures/cpanel/demo.json).');
// An absolute --out: the planted symlink then points out of the tree by its absolute path, as a hostile one would.
run('node', process.execPath, ['scripts/gen-cpanel-tree.mjs', '--manifest', 'fixtures/cpanel/demo.json', '--out', path.join(root, out, 'old-server')]);

console.log('\n2. The new server: its accounts exist (as WHM creates them), with no mail yet.');
const users = ['alice', 'bigcorp', 'carol', 'mallory', 'oldie'];
const passwd = readFileSync(path.join(root, out, 'old-server/root/etc/passwd'), 'utf8')
  .split('\n')
  .filter((line) => users.includes(line.split(':')[0]));
mkdirSync(path.join(root, out, 'new-server/etc'), { recursive: true });
writeFileSync(path.join(root, out, 'new-server/etc/passwd'), `${passwd.join('\n')}\n`);
console.log(`   ${out}/new-server/etc/passwd: ${users.join(', ')}`);

console.log('\n3. The plan, from a discover of the old server; the new server allows 1 MB per mailbox.');
mailshift(['plan', `${out}/plan.csv`, '--from-cpanel', `${out}/old-server/root`, '--to', `${out}/new-server`, '--target-quota', '1M'], [3]);

console.log("\n   oldie's mail is mbox: one row converting it into a maildir on the new server is added by hand.");
const oldie = `oldie,${path.join(root, out, 'old-server/root/home/oldie/mail')},${path.join(root, out, 'new-server/home/oldie/mail')},,local,0,,,,,,,\n`;
appendFileSync(path.join(root, out, 'plan.csv'), oldie);
// Exit 3: the plan is sound, but bigcorp will be refused for its quota (the check names it).
mailshift(['plan', '--check', `${out}/plan.csv`], [3]);

console.log('\n4. The campaign: prestage copy, cutover resync and verify for every row (exit 1: bigcorp was refused).');
mailshift(['campaign', `${out}/plan.csv`], [1]);

console.log('\n5. The same command again: nothing finished is redone.');
mailshift(['campaign', `${out}/plan.csv`], [1]);

const report = path.join(out, 'plan.campaign/report/report.html');
if (!existsSync(path.join(root, report))) {
  console.error(`demo: ${report} was not written`);
  process.exit(1);
}
console.log(`\nOpen the report: ${report}`);
