// What every benchmark's main() starts with: its options read, --help answered, a bad option refused.

/**
 * Reads a benchmark's options with its own parser. Returns `{ options }` to run with, or `{ exitCode }` once the
 * usage was printed: 0 for --help (on stdout), 2 for an option the parser refused (on stderr, with the reason).
 */
export function readBenchOptions(name, argv, parseOptions, usage) {
  let options;
  try {
    options = parseOptions(argv);
  } catch (error) {
    process.stderr.write(`bench ${name}: ${error.message}\n\n${usage}\n`);
    return { exitCode: 2 };
  }
  if (options.help) {
    process.stdout.write(`${usage}\n`);
    return { exitCode: 0 };
  }
  return { options };
}

/** Progress lines go to stderr: stdout is kept for the tables. */
export function log(text) {
  process.stderr.write(`${text}\n`);
}
