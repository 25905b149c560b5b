/** Process exit codes, documented in the README. Only src/cli/main.ts turns them into a process exit. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  /** Some items were skipped; the report lists each one with its reason. */
  partial: 3,
  /** verify found differences between source and target. */
  differences: 4,
  /** The source changed while we ran; run again. */
  sourceChanged: 5,
  /** A temporary failure (network, server busy); retry later. */
  tempFail: 75,
  /** Configuration problem, e.g. rsync missing. */
  config: 78,
  interrupted: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
