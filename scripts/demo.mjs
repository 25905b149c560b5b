#!/usr/bin/env node
// `npm run demo`: converts the bundled legacy cPanel mbox account (fixtures/mbox/sample-account) into a fresh
// Maildir++ tree under demo-output/, prints the summary, then runs again to show that a re-run adds nothing.
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const cli = path.join(root, 'dist/bin/mailshift.js');
const source = path.join(root, 'fixtures/mbox/sample-account');
const target = path.join(root, 'demo-output/Maildir');
rmSync(path.join(root, 'demo-output'), { recursive: true, force: true });

const run = (args) => {
  console.log(`$ mailshift ${args.map((a) => path.relative(root, a) || a).join(' ')}`);
  const result = spawnSync(process.execPath, [cli, ...args], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

run(['convert', source, target]);
console.log('\nThe Maildir++ tree:');
for (const name of readdirSync(target).sort()) console.log(`  demo-output/Maildir/${name}`);
console.log('\nRunning the same conversion again adds nothing:');
run(['convert', source, target]);
