// Types for gen-error-docs.mjs, so its tests type-check against the table they document.
import type { ErrorCodeEntry, errorCodes, exitCodeMeanings } from '../src/core/error-codes.js';

export interface ErrorTables {
  readonly errorCodes: Readonly<Record<string, ErrorCodeEntry>> | typeof errorCodes;
  readonly exitCodeMeanings: Readonly<Record<number, string>> | typeof exitCodeMeanings;
}

export const errorDocsPath: string;
export function formatErrorDocs(tables: ErrorTables): string;
export function readErrorTables(): Promise<ErrorTables>;
