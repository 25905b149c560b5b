// Writes docs/errors.md from the error-code table in src/core/error-codes.ts (`npm run docs:errors`).
// test/scripts/gen-error-docs.test.ts fails when the committed file differs from what this would write, so the docs
// cannot drift from the codes the program throws. The table is TypeScript; esbuild (already a dev dependency, it
// bundles dist/) turns it into a module in memory, so no build is needed first.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const errorDocsPath = path.join(root, 'docs', 'errors.md');

/** The whole of docs/errors.md for a table of codes and a table of exit codes (see src/core/error-codes.ts). */
export function formatErrorDocs({ errorCodes, exitCodeMeanings }) {
  const lines = [
    '# Errors and exit codes',
    '',
    '<!-- Generated from src/core/error-codes.ts by `npm run docs:errors`; edit the table there, not this file. -->',
    '',
    'Every error mailshift reports has a stable code (`MAILSHIFT_…`), a message that says what and where, and, where',
    'there is something to do about it, a hint. With `--json` the code is in `error.code` (and in a folder\'s',
    '`error.code` or the report\'s `stopped.code` when the run went on or stopped cleanly). With `--debug` the stack is',
    'printed too.',
    '',
    '## Exit codes',
    '',
    '| code | meaning |',
    '|---|---|',
    ...Object.entries(exitCodeMeanings)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([code, meaning]) => `| ${code} | ${escapeCell(meaning)} |`),
    '',
    '## Error codes',
    '',
    'The exit code beside each error is the one a run usually ends with because of it. An error about one message',
    'does not stop the run: the message is skipped and listed in the report with its reason, and the run ends with 3.',
    'A word in capitals in a hint stands for what the real hint fills in (a path, a host, a user).',
    '',
    '| code | exit | meaning |',
    '|---|---|---|',
    ...Object.entries(errorCodes).map(([code, entry]) => `| [\`${code}\`](#${code.toLowerCase()}) | ${entry.exitCode} | ${escapeCell(entry.meaning)} |`),
  ];
  for (const [code, entry] of Object.entries(errorCodes)) {
    lines.push('', `### ${code}`, '', entry.meaning, '', `Exit code: ${entry.exitCode} (${exitCodeMeanings[entry.exitCode]}).`);
    if (entry.hints.length === 1) lines.push('', `Hint: ${entry.hints[0]}`);
    if (entry.hints.length > 1) lines.push('', 'Hints, depending on the case:', '', ...entry.hints.map((hint) => `- ${hint}`));
  }
  return `${lines.join('\n')}\n`;
}

function escapeCell(text) {
  return text.replaceAll('|', '\\|');
}

/** The table, straight from the TypeScript source. */
export async function readErrorTables() {
  const bundled = await build({
    entryPoints: [path.join(root, 'src', 'core', 'error-codes.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    logLevel: 'warning',
  });
  const code = bundled.outputFiles[0].text;
  return import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}

async function main() {
  writeFileSync(errorDocsPath, formatErrorDocs(await readErrorTables()));
  console.log(`wrote ${path.relative(process.cwd(), errorDocsPath)}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
