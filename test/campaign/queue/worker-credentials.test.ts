import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { readCredentialsFromEnv } from '../../../src/campaign/queue/worker-credentials.js';

describe('readCredentialsFromEnv', () => {
  it('takes MAILSHIFT_CREDENTIAL_<name> with the name exactly as the plan writes it, and masks each secret in logs', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', write: (line) => lines.push(line) });
    const secrets = readCredentialsFromEnv({ 'MAILSHIFT_CREDENTIAL_alice-target': 'pw-alice', MAILSHIFT_CREDENTIAL_: 'x', HOME: '/root', MAILSHIFT_CREDENTIAL_empty: '' }, logger);
    expect([...secrets]).toEqual([['alice-target', 'pw-alice']]);
    logger.info('login with pw-alice');
    expect(lines.join('')).not.toContain('pw-alice');
  });
});
