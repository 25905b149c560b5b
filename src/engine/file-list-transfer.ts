/** Moved to hosts/transfer.ts; kept for importers not yet switched (engine/resync-dedupe.ts). */
export * from '../hosts/transfer.js';
