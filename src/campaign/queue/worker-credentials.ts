import type { Logger } from '../../core/logger.js';
import { readCredentialsFile } from '../credentials.js';

/**
 * A worker's secrets, by the names plan rows give (source_credential, target_credential): its own credentials file
 * (the campaign's format, mode 0600) and MAILSHIFT_CREDENTIAL_<NAME> variables of its environment, the name exactly as
 * the plan writes it; the environment wins. Jobs carry only the names, so no password ever passes through Redis.
 */
export const credentialEnvPrefix = 'MAILSHIFT_CREDENTIAL_';

export function readCredentialsFromEnv(env: NodeJS.ProcessEnv, logger: Logger): Map<string, string> {
  const secrets = new Map<string, string>();
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith(credentialEnvPrefix) || key.length === credentialEnvPrefix.length || !value) continue;
    logger.redact(value);
    secrets.set(key.slice(credentialEnvPrefix.length), value);
  }
  return secrets;
}

export async function readWorkerCredentials(file: string | undefined, env: NodeJS.ProcessEnv, logger: Logger): Promise<Map<string, string>> {
  const fromFile = file ? await readCredentialsFile(file, logger) : new Map<string, string>();
  return new Map([...fromFile, ...readCredentialsFromEnv(env, logger)]);
}
