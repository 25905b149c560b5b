import { maskUrlSecrets } from './secrets.js';

/**
 * Logs go to stderr (stdout is for results and --json). Secrets registered with `redact` are replaced wherever
 * they appear, so a password passed through a library's debug output never reaches a log; so is the password of a
 * `scheme://user:password@host` URL (maskUrlSecrets).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Register a secret: it is masked in every later line. */
  redact(secret: string): void;
  readonly level: LogLevel;
}

export interface LoggerOptions {
  level?: LogLevel;
  write?: (line: string) => void;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const secrets: string[] = [];
  const emit = (at: LogLevel, message: string) => {
    if (levelRank[at] < levelRank[level]) return;
    let text = maskUrlSecrets(message);
    for (const secret of secrets) text = text.split(secret).join('********');
    const prefix = at === 'info' ? '' : `${at}: `;
    write(`${prefix}${text}\n`);
  };
  return {
    level,
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
    redact: (secret) => {
      if (secret.length > 0) secrets.push(secret);
    },
  };
}

/** A logger that drops everything; for library callers and tests. */
export const silentLogger: Logger = createLogger({ level: 'silent' });
