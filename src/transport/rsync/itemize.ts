/**
 * rsync --itemize-changes lines (rsync(1), --itemize-changes): `YXcstpoguax path`, where Y is the update type
 * (`<` sent, `>` received, `c` created locally, `h` hard link, `.` unchanged, `*` message such as `*deleting`) and X the
 * file type (`f` file, `d` dir, `L` symlink, `D` device, `S` special). Pure, one line at a time.
 *
 * rsync escapes unprintable bytes in names as `\#ooo` (octal), so one item is always one line, even for hostile names
 * containing a newline; `unescapeRsyncName` turns the escapes back into characters.
 */

export type ItemType = 'file' | 'dir' | 'symlink' | 'device' | 'special';

export interface ItemizedChange {
  readonly update: 'sent' | 'received' | 'created' | 'hardlink' | 'unchanged';
  readonly type: ItemType;
  /** True when the item did not exist on the receiver before (attribute string of '+'). */
  readonly isNew: boolean;
  /** Relative to the transfer root, unescaped. Directories end in '/'. */
  readonly path: string;
  /** For symlinks: the link text; for hard links: the path linked to. */
  readonly linkTo?: string;
}

export interface ItemizedMessage {
  readonly update: 'message';
  /** e.g. "deleting" (never produced by our argv: we never pass --delete). */
  readonly text: string;
  readonly path: string;
}

const updateTypes: Record<string, ItemizedChange['update']> = { '<': 'sent', '>': 'received', c: 'created', h: 'hardlink', '.': 'unchanged' };
const itemTypes: Record<string, ItemType> = { f: 'file', d: 'dir', L: 'symlink', D: 'device', S: 'special' };

/** Returns undefined for lines that are not itemize output (progress, stats, warnings). */
export function parseItemizeLine(line: string): ItemizedChange | ItemizedMessage | undefined {
  if (line.startsWith('*')) {
    const match = /^\*(\S+)\s+(.*)$/.exec(line);
    return match ? { update: 'message', text: match[1]!, path: unescapeRsyncName(match[2]!) } : undefined;
  }
  // 11 attribute characters (rsync >= 3.1 adds 'x' for xattrs and 'a' for ACLs), a space, then the name.
  const match = /^([<>ch.])([fdLDS])([.+ ?a-zA-Z]{9}) (.+)$/.exec(line);
  if (!match) return undefined;
  const update = updateTypes[match[1]!]!;
  const type = itemTypes[match[2]!]!;
  const attributes = match[3]!;
  let rest = match[4]!;
  let linkTo: string | undefined;
  if (type === 'symlink') {
    const arrow = rest.indexOf(' -> ');
    if (arrow >= 0) {
      linkTo = unescapeRsyncName(rest.slice(arrow + 4));
      rest = rest.slice(0, arrow);
    }
  } else if (update === 'hardlink') {
    const arrow = rest.indexOf(' => ');
    if (arrow >= 0) {
      linkTo = unescapeRsyncName(rest.slice(arrow + 4));
      rest = rest.slice(0, arrow);
    }
  }
  return {
    update,
    type,
    isNew: attributes === '+++++++++',
    path: unescapeRsyncName(rest),
    ...(linkTo !== undefined ? { linkTo } : {}),
  };
}

/** An item rsync transferred or created (what a run counts and reports), not a message line or an unchanged one. */
export function isChangedItem(item: ItemizedChange | ItemizedMessage): item is ItemizedChange {
  return item.update !== 'message' && item.update !== 'unchanged';
}

/** `\#012` -> "\n" (rsync writes unprintable bytes as backslash, '#', three octal digits). */
export function unescapeRsyncName(name: string): string {
  if (!name.includes('\\#')) return name;
  const bytes: number[] = [];
  const raw = Buffer.from(name, 'utf8');
  for (let i = 0; i < raw.length; i += 1) {
    if (raw[i] === 0x5c && raw[i + 1] === 0x23 && i + 4 < raw.length) {
      const octal = raw.subarray(i + 2, i + 5).toString('latin1');
      if (/^[0-7]{3}$/.test(octal)) {
        bytes.push(parseInt(octal, 8));
        i += 4;
        continue;
      }
    }
    bytes.push(raw[i]!);
  }
  return Buffer.from(bytes).toString('utf8');
}
