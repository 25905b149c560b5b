import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { formatBytes } from '../core/format.js';
import { findUrlSecrets } from '../core/secrets.js';
import { parseSize } from '../core/size.js';
import { parseStoreSpec } from '../stores/spec.js';

/**
 * A campaign's plan: a CSV file a person can read and edit (UTF-8, a header row, `#` comments, one row per account
 * or mailbox). Pure: text in, rows and line-numbered errors out, and back. Passwords never appear in a plan: a row
 * names a credential (`source_credential`, `target_credential`) that a separate file of mode 0600 holds.
 *
 * csv-parse and csv-stringify (the node-csv project) rather than a hand-written reader: quoting, embedded commas,
 * CRLF files from spreadsheets and a byte-order mark are their daily work.
 */

export const planColumns = ['id', 'source', 'target', 'rename', 'group', 'priority', 'timeout', 'options', 'source_credential', 'target_credential', 'size', 'largest', 'quota'] as const;
export type PlanColumn = (typeof planColumns)[number];

export interface PlanRow {
  /** Stable across edits and runs: the campaign's state and reports key on it. */
  readonly id: string;
  readonly source: string;
  readonly target: string;
  /** The account has another user name on the target (`OLD:NEW`). */
  readonly rename?: { readonly from: string; readonly to: string };
  /** Rows of one group share its concurrency limit (by default the source host). */
  readonly group: string;
  /** Higher first; default 0. */
  readonly priority: number;
  readonly timeoutS?: number;
  /** Extra command-line options for this row, as text (checked when the row runs). */
  readonly options?: string;
  readonly sourceCredential?: string;
  readonly targetCredential?: string;
  /** Bytes of mail the row moves, as measured when the plan was made: orders the run (smallest first) and gives the ETA. */
  readonly sizeBytes?: number;
  /** Bytes of the row's largest mailbox (the row's size when it is one mailbox): what must fit the target quota. */
  readonly largestBytes?: number;
  /** The target's quota per mailbox, in bytes: a row whose largest mailbox is bigger is refused before it runs. */
  readonly quotaBytes?: number;
  /** Where the row is in the file (1-based), for messages. */
  readonly line: number;
}

export interface PlanError {
  readonly line: number;
  readonly message: string;
}

export interface ParsedPlan {
  readonly rows: PlanRow[];
  readonly errors: PlanError[];
}

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;
const renamePattern = /^([a-z0-9_][a-z0-9_-]{0,31}):([a-z0-9_][a-z0-9_-]{0,31})$/i;
const credentialPattern = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;

/** Reads a plan; every problem is reported with its line, and no row with a problem is returned. */
export function parsePlan(text: string): ParsedPlan {
  const errors: PlanError[] = [];
  let records: { record: string[]; line: number }[];
  try {
    records = (
      parse(text, { bom: true, comment: '#', comment_no_infix: true, skip_empty_lines: true, relax_column_count: true, trim: true, info: true }) as unknown as {
        record: string[];
        info: { lines: number };
      }[]
    ).map((each) => ({ record: each.record, line: each.info.lines }));
  } catch (err) {
    const line = (err as { lines?: number }).lines ?? 0;
    return { rows: [], errors: [{ line, message: `not a CSV file: ${(err as Error).message}` }] };
  }
  const header = records.shift();
  if (!header) return { rows: [], errors: [{ line: 1, message: 'the plan is empty: it needs a header row (id,source,target,...)' }] };
  const columns = header.record.map((name) => name.toLowerCase());
  for (const name of columns) {
    if (!(planColumns as readonly string[]).includes(name)) errors.push({ line: header.line, message: `unknown column "${name}" (known: ${planColumns.join(', ')})` });
  }
  for (const required of ['id', 'source', 'target'] as const) {
    if (!columns.includes(required)) errors.push({ line: header.line, message: `the header has no "${required}" column` });
  }
  if (errors.length > 0) return { rows: [], errors };
  const rows: PlanRow[] = [];
  const firstLineOfId = new Map<string, number>();
  for (const { record, line } of records) {
    if (record.length !== columns.length) {
      errors.push({ line, message: `${record.length} fields where the header has ${columns.length}` });
      continue;
    }
    const cell = (name: PlanColumn) => {
      const at = columns.indexOf(name);
      return at < 0 ? '' : record[at]!;
    };
    const rowErrors: string[] = [];
    const id = cell('id');
    if (!idPattern.test(id)) rowErrors.push(`id "${id}" is not a plain name (letters, digits, . _ @ + -)`);
    else if (firstLineOfId.has(id)) rowErrors.push(`id "${id}" is used twice (first on line ${firstLineOfId.get(id)})`);
    else firstLineOfId.set(id, line);
    const source = cell('source');
    const target = cell('target');
    const sourceGroup = checkSpec('source', source, rowErrors);
    checkSpec('target', target, rowErrors);
    const renameText = cell('rename');
    const rename = renameText ? renamePattern.exec(renameText) : undefined;
    if (renameText && !rename) rowErrors.push(`rename "${renameText}" is not OLD:NEW cPanel user names`);
    const priorityText = cell('priority');
    if (priorityText && !/^-?\d{1,6}$/.test(priorityText)) rowErrors.push(`priority "${priorityText}" is not a whole number`);
    const timeoutText = cell('timeout');
    if (timeoutText && !/^[1-9]\d{0,6}$/.test(timeoutText)) rowErrors.push(`timeout "${timeoutText}" is not a number of seconds (1 or more)`);
    for (const name of ['source_credential', 'target_credential'] as const) {
      const value = cell(name);
      if (value && !credentialPattern.test(value)) rowErrors.push(`${name} "${value}" is not a credential name (the password itself belongs in the credentials file)`);
    }
    const sizes = readSizeCells(cell, rowErrors);
    if (rowErrors.length > 0) {
      for (const message of rowErrors) errors.push({ line, message });
      continue;
    }
    rows.push({
      id,
      source,
      target,
      ...(rename ? { rename: { from: rename[1]!, to: rename[2]! } } : {}),
      group: cell('group') || sourceGroup || 'local',
      priority: priorityText ? Number(priorityText) : 0,
      ...(timeoutText ? { timeoutS: Number(timeoutText) } : {}),
      ...(cell('options') ? { options: cell('options') } : {}),
      ...(cell('source_credential') ? { sourceCredential: cell('source_credential') } : {}),
      ...(cell('target_credential') ? { targetCredential: cell('target_credential') } : {}),
      ...sizes,
      line,
    });
  }
  return { rows, errors };
}

/** The line of the first row in a plan formatPlan wrote with a one-line comment: the comment, then the header. */
export const planFirstRowLine = 3;

/** The plan as CSV, with a comment on top; what parsePlan reads back as the same rows (lines aside). */
export function formatPlan(rows: readonly PlanRow[], comment?: string): string {
  const records = rows.map((row) => [
    row.id,
    row.source,
    row.target,
    row.rename ? `${row.rename.from}:${row.rename.to}` : '',
    row.group,
    String(row.priority),
    row.timeoutS !== undefined ? String(row.timeoutS) : '',
    row.options ?? '',
    row.sourceCredential ?? '',
    row.targetCredential ?? '',
    row.sizeBytes !== undefined ? String(row.sizeBytes) : '',
    row.largestBytes !== undefined ? String(row.largestBytes) : '',
    row.quotaBytes !== undefined ? String(row.quotaBytes) : '',
  ]);
  const top = comment ? `${comment.split('\n').map((line) => `# ${line}`.trimEnd()).join('\n')}\n` : '';
  return top + stringify([[...planColumns], ...records]);
}

/**
 * What the plan parser would say about this row, on its own (ids are unique only within a plan): a row built by code
 * (an import, a discover) is judged by the same rules as one typed by a person.
 */
export function findRowProblems(row: PlanRow): string[] {
  return parsePlan(formatPlan([row])).errors.map((each) => each.message);
}

/** `size`, `largest` and `quota`: bytes, written by `mailshift plan`; a person may type 2G or 500M instead. */
function readSizeCells(cell: (name: PlanColumn) => string, rowErrors: string[]): Pick<PlanRow, 'sizeBytes' | 'largestBytes' | 'quotaBytes'> {
  const read = (name: 'size' | 'largest' | 'quota'): number | undefined => {
    const text = cell(name);
    if (!text) return undefined;
    const parsed = parseSize(text);
    if (!parsed.ok) {
      rowErrors.push(`${name} "${text}": ${parsed.reason}`);
      return undefined;
    }
    return parsed.bytes;
  };
  const sizeBytes = read('size');
  const largestBytes = read('largest');
  const quotaBytes = read('quota');
  return { ...(sizeBytes !== undefined ? { sizeBytes } : {}), ...(largestBytes !== undefined ? { largestBytes } : {}), ...(quotaBytes !== undefined ? { quotaBytes } : {}) };
}

/**
 * A row that cannot fit its target: its largest mailbox (or the whole row, when only its size is known) is bigger
 * than the target's quota. Copied anyway, the mailbox would be over quota at once and refuse new mail after the MX
 * switch; the campaign refuses the row before it starts, and the report lists it with this reason.
 */
export function findQuotaProblem(row: PlanRow): string | undefined {
  const largest = row.largestBytes ?? row.sizeBytes;
  if (row.quotaBytes === undefined || largest === undefined || largest <= row.quotaBytes) return undefined;
  const what = row.largestBytes !== undefined ? 'its largest mailbox holds' : 'it holds';
  return `${what} ${formatBytes(largest)}, more than the target quota of ${formatBytes(row.quotaBytes)}: raise the quota column (and the quota on the target), or move the mail out first`;
}

/**
 * A spec must parse and must carry no password (a password typed into a URL would then sit in a file people mail
 * around). Returns the group the spec implies: its host, or undefined for a local path.
 */
function checkSpec(role: 'source' | 'target', text: string, errors: string[]): string | undefined {
  if (!text) {
    errors.push(`${role} is empty`);
    return undefined;
  }
  if (findUrlSecrets(text).length > 0) {
    errors.push(`${role} carries a password: move it to the credentials file and name it in ${role}_credential`);
    return undefined;
  }
  try {
    const spec = parseStoreSpec(text);
    if (spec.kind === 'imap') return spec.host;
    return spec.location.type === 'ssh' ? spec.location.host : undefined;
  } catch (err) {
    errors.push(`${role}: ${(err as Error).message}`);
    return undefined;
  }
}
