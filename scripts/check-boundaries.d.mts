// Types for check-boundaries.mjs, for its tests.
export interface BoundaryRule {
  readonly says: string;
  readonly from: readonly string[];
  readonly fromExcept?: readonly string[];
  readonly forbid: readonly string[];
  readonly allow?: readonly string[];
  readonly allowFor?: Readonly<Record<string, readonly string[]>>;
}

export interface BoundaryViolation {
  readonly file: string;
  readonly imports: string;
  readonly rule: string;
}

export const driverDirs: readonly string[];
export const rules: readonly BoundaryRule[];
export function readImportSpecifiers(text: string): string[];
export function decideViolations(importer: string, imported: string): BoundaryRule[];
export function findViolations(root: string): BoundaryViolation[];
export function formatViolation(violation: BoundaryViolation): string;
