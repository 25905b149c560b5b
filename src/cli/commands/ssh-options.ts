import { InvalidArgumentError, type Command } from 'commander';
import type { SshOptions } from '../../transport/ssh.js';

/** The ssh flags copy, chown and verify share (and resync can reuse). */
export interface SshCliOptions {
  sshKey?: string;
  sshOption?: string[];
  sshConfig?: string;
}

export function addSshOptions(command: Command): Command {
  return command
    .option('--ssh-key <file>', 'private key for ssh:// ends (BatchMode: never prompts for a password)')
    .option('--ssh-option <key=value>', 'extra ssh -o option, repeatable (e.g. StrictHostKeyChecking=accept-new)', collect, [])
    .option('--ssh-config <file>', 'ssh config file instead of ~/.ssh/config (ssh -F)');
}

export function buildSshOptionsFromCli(options: SshCliOptions): SshOptions {
  return {
    ...(options.sshKey ? { keyFile: options.sshKey } : {}),
    ...(options.sshOption && options.sshOption.length > 0 ? { options: options.sshOption } : {}),
    ...(options.sshConfig ? { configFile: options.sshConfig } : {}),
  };
}

function collect(value: string, previous: string[]): string[] {
  if (!/^[A-Za-z][A-Za-z0-9]*=/.test(value)) throw new InvalidArgumentError('expected KEY=VALUE');
  return [...previous, value];
}

export function parseWholeNumber(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}

/** rsync's --bwlimit unit is KiB/s; accept "500", "500K", "10M", "1G". */
export function parseBandwidthKiBps(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMG]?)(?:i?B)?(?:\/s)?$/i.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected a rate like 500 (KiB/s), 500K, 10M or 1G');
  const n = Number(match[1]);
  const unit = (match[2] ?? '').toUpperCase();
  const kib = unit === 'M' ? n * 1024 : unit === 'G' ? n * 1024 * 1024 : n;
  if (kib < 1) throw new InvalidArgumentError('the limit must be at least 1 KiB/s');
  return Math.round(kib);
}
