/** Moved to cpanel/unsafe.ts (one home for cPanel rules); kept for importers not yet switched (engine/resync-*.ts). */
export * from '../../cpanel/unsafe.js';
