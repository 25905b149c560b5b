import type { FolderPlan } from '../../../../src/engine/tree/resync/plan.js';

/** A planned folder with nothing to do, for tests to fill in what they look at. */
export function folderPlan(dir: string, extra: Partial<FolderPlan> = {}): FolderPlan {
  return {
    dir,
    isNew: false,
    missingSubdirs: [],
    copies: [],
    alreadyPresent: 0,
    targetOnly: [],
    flagDifferences: [],
    renames: [],
    droppedKeywords: [],
    sourceDuplicateBases: 0,
    targetDuplicateBases: 0,
    ...extra,
  };
}
