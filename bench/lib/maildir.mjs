// Counting what a tool wrote, to check a benchmark run produced the whole mailbox and not just a fast failure.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Walks a maildir tree (a Maildir++ root, its .Folder subdirectories, or any nesting a tool chose) without
 * following symlinks, and counts regular files in every `cur/` and `new/` that sits next to a `tmp/`.
 * Returns { messages, sizeBytes, folders }. Index and uidlist files are not messages and are not counted.
 */
export function countMaildirMessages(root) {
  let messages = 0;
  let sizeBytes = 0;
  let folders = 0;
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop();
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    const names = new Set(entries.filter((e) => e.isDirectory()).map((e) => e.name));
    const isMaildir = names.has('cur') && names.has('new') && names.has('tmp');
    if (isMaildir) folders++;
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      if (isMaildir && (entry.name === 'cur' || entry.name === 'new')) {
        for (const file of readdirSync(path, { withFileTypes: true })) {
          if (!file.isFile()) continue;
          messages++;
          sizeBytes += lstatSync(join(path, file.name)).size;
        }
      } else if (!(isMaildir && entry.name === 'tmp')) {
        stack.push(path);
      }
    }
  }
  return { messages, sizeBytes, folders };
}
