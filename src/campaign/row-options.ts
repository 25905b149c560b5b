import { parseArgs } from 'node:util';
import { parseSize } from '../core/size.js';

/**
 * A plan row's `options` column: the few per-account settings a campaign lets a row change, written as on the
 * command line (`--exclude ^Trash$ --max-size 35M --no-chown`). Values are single words (no quoting); anything else
 * is refused when the plan is checked, with the row's line, never ignored. node:util's parseArgs reads them (strict:
 * an unknown option is an error).
 */
export interface RowOptions {
  /** Folders left out (regular expressions on the folder name, messages engine). */
  readonly excludes: readonly RegExp[];
  readonly maxSizeBytes?: number;
  /** Leave owners and modes as copied into a cPanel root. */
  readonly noChown: boolean;
  /** Resync: do not recognise mail delivered to both servers. */
  readonly noDedupe: boolean;
  readonly flags?: 'target' | 'source' | 'merge';
  readonly bwlimitKiBps?: number;
  /** Mailboxes (files engine) or folders (messages engine) at once, within the account. */
  readonly jobs?: number;
}

export type RowOptionsParse = { readonly ok: true; readonly options: RowOptions } | { readonly ok: false; readonly reason: string };

export const rowOptionNames = ['--exclude', '--max-size', '--no-chown', '--no-dedupe', '--flags', '--bwlimit', '--jobs'] as const;

export function parseRowOptions(text: string | undefined): RowOptionsParse {
  const tokens = (text ?? '').split(/\s+/).filter((token) => token.length > 0);
  let values;
  try {
    ({ values } = parseArgs({
      args: tokens,
      strict: true,
      allowPositionals: false,
      options: {
        exclude: { type: 'string', multiple: true },
        'max-size': { type: 'string' },
        'no-chown': { type: 'boolean' },
        'no-dedupe': { type: 'boolean' },
        flags: { type: 'string' },
        bwlimit: { type: 'string' },
        jobs: { type: 'string' },
      },
    }));
  } catch (err) {
    return { ok: false, reason: `options: ${(err as Error).message.split('\n')[0]} (a row may set ${rowOptionNames.join(', ')})` };
  }
  const excludes: RegExp[] = [];
  for (const pattern of values.exclude ?? []) {
    try {
      excludes.push(new RegExp(pattern));
    } catch {
      return { ok: false, reason: `options: --exclude ${pattern} is not a regular expression` };
    }
  }
  let maxSizeBytes: number | undefined;
  if (values['max-size'] !== undefined) {
    const size = parseSize(values['max-size']);
    if (!size.ok) return { ok: false, reason: `options: --max-size ${values['max-size']}: ${size.reason}` };
    maxSizeBytes = size.bytes;
  }
  const flags = values.flags;
  if (flags !== undefined && flags !== 'target' && flags !== 'source' && flags !== 'merge') return { ok: false, reason: `options: --flags ${flags}: expected target, source or merge` };
  const bwlimit = readWhole(values.bwlimit, '--bwlimit');
  if (typeof bwlimit === 'string') return { ok: false, reason: bwlimit };
  const jobs = readWhole(values.jobs, '--jobs');
  if (typeof jobs === 'string') return { ok: false, reason: jobs };
  return {
    ok: true,
    options: {
      excludes,
      ...(maxSizeBytes !== undefined ? { maxSizeBytes } : {}),
      noChown: values['no-chown'] === true,
      noDedupe: values['no-dedupe'] === true,
      ...(flags !== undefined ? { flags } : {}),
      ...(bwlimit !== undefined ? { bwlimitKiBps: bwlimit } : {}),
      ...(jobs !== undefined ? { jobs } : {}),
    },
  };
}

function readWhole(value: string | undefined, name: string): number | string | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9]\d{0,6}$/.test(value)) return `options: ${name} ${value}: expected a whole number, 1 or more`;
  return Number(value);
}
