// Where results go and what describes the machine they were measured on.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, release, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
export const REPO_DIR = dirname(BENCH_DIR);
export const OUT_DIR = join(BENCH_DIR, 'out');

function readOsName() {
  try {
    const text = readFileSync('/etc/os-release', 'utf8');
    return text.match(/^PRETTY_NAME="?([^"\n]*)"?/m)?.[1] ?? '';
  } catch {
    return '';
  }
}

export function readMachineInfo() {
  const cpuList = cpus();
  return {
    hostname: hostname(),
    os: readOsName(),
    kernel: release(),
    cpuModel: cpuList[0]?.model ?? 'unknown',
    cpus: cpuList.length,
    memTotalBytes: totalmem(),
    node: process.version,
    loadAverage1m: loadavg()[0],
  };
}

export function formatMachineLine(machine) {
  return `${machine.cpus} x ${machine.cpuModel}, ${(machine.memTotalBytes / 2 ** 30).toFixed(0)} GiB RAM, ` +
    `${machine.os || 'Linux'} (kernel ${machine.kernel}), Node ${machine.node}, load ${machine.loadAverage1m.toFixed(2)}`;
}

/** Writes bench/out/<name>-<UTC timestamp>.json and returns its path relative to the repository. */
export function writeResultJson(name, data) {
  mkdirSync(OUT_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:]/g, '').replace(/\..*/, 'Z');
  const path = join(OUT_DIR, `${name}-${stamp}.json`);
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
  return relative(REPO_DIR, path);
}
