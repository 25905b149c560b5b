/** Moved to hosts/exec.ts (the far-host file interface lives in src/hosts/); kept for importers not yet switched. */
export * from '../hosts/exec.js';
