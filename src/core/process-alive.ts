import { systemErrorCode } from './errors.js';

/**
 * Whether a process with this id exists on this machine: signal 0 checks without touching it, and EPERM means it
 * exists under another user. For temporary files and locks named by their writer's pid, left by a run that died.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return systemErrorCode(err) === 'EPERM';
  }
}
