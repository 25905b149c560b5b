// Kept for src/engine/store-copy.ts (not part of this move), which imports FlagsMode from here.
export type { FlagsMode } from './tree/resync/plan.js';
