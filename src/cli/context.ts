import type { Logger } from '../core/logger.js';
import type { ExitCodeValue } from '../core/exit-codes.js';

/**
 * What a command gets from the CLI shell. Commands never touch `process` themselves: they print through `out`,
 * log through `logger`, watch `signal` for Ctrl-C and report their outcome through `setExitCode`.
 */
export interface CliContext {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** True when stderr is a terminal: progress bars are drawn only then. */
  readonly isInteractive: boolean;
  readonly signal: AbortSignal;
  readonly env: NodeJS.ProcessEnv;
  /** Reads all of standard input (for --password-file -). */
  readonly readStdin: () => Promise<string>;
  logger(): Logger;
  setExitCode(code: ExitCodeValue): void;
}

/** Options every command accepts (declared once on the root program). */
export interface GlobalOptions {
  json?: boolean;
  debug?: boolean;
  quiet?: boolean;
}
