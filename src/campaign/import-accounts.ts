import { parse } from 'csv-parse/sync';
import { findRowProblems, type PlanError, type PlanRow } from './plan-file.js';

/**
 * Plans from the account lists admins already have, so nobody retypes 300 lines:
 *
 *   imapsync's file.txt   host1;user1;password1;host2;user2;password2[;extra;]   (examples/file.txt, FAQ.Massive)
 *                         and its 4-column form user1;password1;user2;password2 with both hosts given
 *   Microsoft 365's CSV   EmailAddress,UserName,Password   (IMAP migration batch: EmailAddress is the mailbox in
 *                         Microsoft 365, UserName and Password the login on the source server)
 *
 * Pure: text in; rows, the passwords (to go into a credentials file of mode 0600, never into the plan) and
 * line-numbered errors and warnings out. Every produced row is checked by the plan parser, so an imported plan is one
 * parsePlan accepts.
 */
export interface ImportedAccounts {
  readonly rows: PlanRow[];
  /** Credential name -> password; the rows name them in source_credential / target_credential. */
  readonly secrets: Map<string, string>;
  readonly errors: PlanError[];
  /** What was read but not carried (imapsync's own options), each with its line. */
  readonly warnings: PlanError[];
}

export interface ImapsyncImportOptions {
  /** For the 4-column form: the hosts the lines leave out. */
  readonly host1?: string;
  readonly host2?: string;
}

export function importImapsyncLines(text: string, options: ImapsyncImportOptions = {}): ImportedAccounts {
  const accounts: Account[] = [];
  const errors: PlanError[] = [];
  const warnings: PlanError[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((raw, index) => {
    const line = index + 1;
    const text = raw.replace(/\r$/, '');
    if (text.trim() === '' || text.trimStart().startsWith('#')) return;
    // A trailing ';' is imapsync's advice against a CR leaking into the last field: drop the empty field it leaves.
    const fields = text.split(';');
    if (fields.length > 4 && fields.at(-1) === '') fields.pop();
    if (fields.length === 4) {
      if (!options.host1 || !options.host2) {
        errors.push({ line, message: 'user1;password1;user2;password2 needs the hosts: give --host1 and --host2' });
        return;
      }
      const [user1, password1, user2, password2] = fields as [string, string, string, string];
      accounts.push({ line, host1: options.host1, user1, password1, host2: options.host2, user2, password2 });
      return;
    }
    if (fields.length < 6 || fields.length > 7) {
      errors.push({ line, message: `${fields.length} fields: expected host1;user1;password1;host2;user2;password2[;extra]` });
      return;
    }
    const [host1, user1, password1, host2, user2, password2, extra] = fields as [string, string, string, string, string, string, string | undefined];
    if (extra && extra.trim()) warnings.push({ line, message: `imapsync options not carried over: ${extra.trim()} (give mailshift's own in the options column)` });
    accounts.push({ line, host1, user1, password1, host2, user2, password2 });
  });
  return build(accounts, errors, warnings);
}

export interface M365ImportOptions {
  /** The source IMAP server the UserName/Password logins belong to. */
  readonly sourceHost: string;
  /** The Microsoft 365 IMAP host (default outlook.office365.com); its login is by OAuth2 token, not in the CSV. */
  readonly targetHost?: string;
}

export function importM365Csv(text: string, options: M365ImportOptions): ImportedAccounts {
  const errors: PlanError[] = [];
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { bom: true, skip_empty_lines: true, relax_column_count: true, trim: true, info: true }) as unknown as typeof records;
  } catch (err) {
    return { rows: [], secrets: new Map(), errors: [{ line: (err as { lines?: number }).lines ?? 0, message: `not a CSV file: ${(err as Error).message}` }], warnings: [] };
  }
  const header = records.shift();
  const columns = header?.record.map((name) => name.toLowerCase()) ?? [];
  const at = { email: columns.indexOf('emailaddress'), user: columns.indexOf('username'), password: columns.indexOf('password') };
  if (at.email < 0 || at.user < 0 || at.password < 0) {
    return { rows: [], secrets: new Map(), errors: [{ line: header?.info.lines ?? 1, message: 'expected the header EmailAddress,UserName,Password (Microsoft 365 IMAP migration CSV)' }], warnings: [] };
  }
  const accounts: Account[] = [];
  for (const { record, info } of records) {
    if (record.length !== columns.length) {
      errors.push({ line: info.lines, message: `${record.length} fields where the header has ${columns.length}` });
      continue;
    }
    accounts.push({ line: info.lines, host1: options.sourceHost, user1: record[at.user]!, password1: record[at.password]!, host2: options.targetHost ?? 'outlook.office365.com', user2: record[at.email]!, password2: undefined });
  }
  return build(accounts, errors, []);
}

interface Account {
  readonly line: number;
  readonly host1: string;
  readonly user1: string;
  readonly password1: string;
  readonly host2: string;
  readonly user2: string;
  /** Absent: the target logs in another way (Microsoft 365: an OAuth2 token). */
  readonly password2: string | undefined;
}

/** Rows named after the source user (made unique), their passwords moved out, each row checked by the plan parser. */
function build(accounts: readonly Account[], errors: PlanError[], warnings: PlanError[]): ImportedAccounts {
  const rows: PlanRow[] = [];
  const secrets = new Map<string, string>();
  const used = new Set<string>();
  for (const account of accounts) {
    const problem = [account.host1, account.user1, account.host2, account.user2].some((field) => field.trim() === '')
      ? 'a host or user is empty'
      : account.password1 === '' || account.password2 === ''
        ? 'a password is empty (a login needs one)'
        : undefined;
    if (problem) {
      errors.push({ line: account.line, message: problem });
      continue;
    }
    const id = uniqueId(account.user1.trim(), used);
    const row = {
      id,
      source: `imaps://${account.user1.trim()}@${account.host1.trim()}`,
      target: `imaps://${account.user2.trim()}${account.password2 === undefined ? ';AUTH=XOAUTH2' : ''}@${account.host2.trim()}`,
      group: account.host1.trim(),
      priority: 0,
      sourceCredential: `${id}.source`,
      ...(account.password2 !== undefined ? { targetCredential: `${id}.target` } : {}),
      line: account.line,
    };
    // The plan parser is the judge of a row: what it refuses is reported here, on the line it came from.
    const problems = findRowProblems(row);
    if (problems.length > 0) {
      for (const message of problems) errors.push({ line: account.line, message });
      continue;
    }
    used.add(id);
    rows.push(row);
    secrets.set(`${id}.source`, account.password1);
    if (account.password2 !== undefined) secrets.set(`${id}.target`, account.password2);
  }
  return { rows, secrets, errors, warnings };
}

/** The user name as a plan id (characters a plan id cannot hold become '_'), with -2, -3 ... when it is taken. */
function uniqueId(user: string, used: ReadonlySet<string>): string {
  const base = user.replace(/[^A-Za-z0-9._@+-]/g, '_').replace(/^[^A-Za-z0-9]+/, '').slice(0, 120) || 'account';
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) if (!used.has(`${base}-${n}`)) return `${base}-${n}`;
}
