#!/usr/bin/env node
// Benchmark dispatcher: `node bench/run.mjs NAME [options]` runs bench/NAME.mjs (`npm run bench -- NAME ...`).
//
// A benchmark is a module bench/<name>.mjs that exports
//   summary: string                        one line for the list below
//   usage: string                          shown for `NAME --help`
//   main(argv: string[]): Promise<number>  runs it; resolves to the exit code (0 ok, 1 failed, 2 usage)
// Adding a benchmark means adding that file; nothing here changes. Shared helpers live in bench/lib/.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const NAME_PATTERN = /^[a-z][a-z0-9-]*$/;

function listBenchmarks() {
  return readdirSync(BENCH_DIR)
    .filter((file) => file.endsWith('.mjs') && file !== 'run.mjs' && NAME_PATTERN.test(file.slice(0, -4)))
    .map((file) => file.slice(0, -4))
    .sort();
}

async function loadBenchmark(name) {
  return import(pathToFileURL(join(BENCH_DIR, `${name}.mjs`)).href);
}

async function printUsage(write) {
  const lines = ['usage: npm run bench -- <benchmark> [options]   (or: node bench/run.mjs <benchmark> ...)', '',
    'benchmarks:'];
  for (const name of listBenchmarks()) {
    let summary;
    try {
      summary = (await loadBenchmark(name)).summary ?? '';
    } catch (error) {
      summary = `(cannot load: ${error.message})`;
    }
    lines.push(`  ${name.padEnd(10)} ${summary}`);
  }
  lines.push('', 'options of one benchmark: npm run bench -- <benchmark> --help',
    'scratch data goes to a tmpfs mounted for the run; results to bench/out/<benchmark>-<time>.json');
  write(`${lines.join('\n')}\n`);
}

async function main(argv) {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    await printUsage((t) => process.stdout.write(t));
    return 0;
  }
  if (!NAME_PATTERN.test(name) || !listBenchmarks().includes(name)) {
    process.stderr.write(`bench: no benchmark named ${JSON.stringify(name)}\n\n`);
    await printUsage((t) => process.stderr.write(t));
    return 2;
  }
  const benchmark = await loadBenchmark(name);
  if (typeof benchmark.main !== 'function') {
    process.stderr.write(`bench: bench/${name}.mjs does not export main(argv)\n`);
    return 1;
  }
  return benchmark.main(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`bench: ${error?.stack ?? error}\n`);
    process.exitCode = 1;
  },
);
