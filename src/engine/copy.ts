/**
 * Moved: the copy planner to engine/tree/plan-copy.ts, cPanel's layout rules to cpanel/layout.ts and its file
 * parsers to cpanel/files.ts. Kept for importers not yet switched (engine/resync-list.ts, verify/run.ts).
 */
export * from './tree/plan-copy.js';
export { accountHomeItems, findMailboxDirs, isDomainDirName, isSafeDomain } from '../cpanel/layout.js';
export { parseGroupGid, parsePasswdHome, parseUserDomains } from '../cpanel/files.js';
