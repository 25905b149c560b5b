import { joinRel, type TreeReader } from '../../fsops/walk.js';
import { parseDomainUserMap, parseSystemPasswd } from '../files.js';
import { checkNameSegment } from '../unsafe.js';
import { FindingSink, noteRefusal, type ScanContext } from './scan-context.js';
import type { AccountSource, CpanelAccountRef, Finding } from './types.js';

/**
 * Which cPanel accounts a server has, from every place that names them (cpanel-layout.md §4.4, §4.5, §3.1):
 * etc/trueuserdomains, etc/userdomains, var/cpanel/users/*, and home directories holding etc/DOMAIN/passwd.
 * An account missing from some of these is still listed (with its sources), so orphans can be reported.
 */

export interface AccountListing {
  readonly accounts: CpanelAccountRef[];
  /** Findings outside any account (a link in /etc, a user name that is not a safe path segment). */
  readonly findings: Finding[];
}

/** Home directory bases: /home, /home2, ... (cPanel's HOMEMATCH default is "home"). */
const homeBase = /^home\d*$/;

export async function listAccountRefs(reader: TreeReader, signal?: AbortSignal): Promise<AccountListing> {
  const sink = new FindingSink();
  // Server-level files have no account: the boundary is ROOT itself.
  const ctx: ScanContext = { reader, home: '', findings: sink, statEveryMessage: false, utf8Names: false, ...(signal ? { signal } : {}) };
  const byUser = new Map<string, { sources: Set<AccountSource>; domains: Set<string>; primary?: string; home?: string }>();
  const entry = (user: string) => {
    let e = byUser.get(user);
    if (!e) {
      e = { sources: new Set(), domains: new Set() };
      byUser.set(user, e);
    }
    return e;
  };

  let systemHomes = new Map<string, string>();
  const etc = await reader.resolveSystemPath('etc');
  if (etc.ok) {
    const readEtc = async (name: string) => {
      const read = await reader.readText(etc.rel, name, 64 * 1024 * 1024);
      if (read.ok) return read.text;
      await noteRefusal(ctx, read, `/etc/${name}`);
      return undefined;
    };
    const trueuser = await readEtc('trueuserdomains');
    for (const { domain, user } of parseDomainUserMap(trueuser ?? '')) {
      const e = entry(user);
      e.sources.add('trueuserdomains');
      e.primary ??= domain;
      e.domains.add(domain);
    }
    for (const { domain, user } of parseDomainUserMap((await readEtc('userdomains')) ?? '')) {
      const e = entry(user);
      e.sources.add('userdomains');
      e.domains.add(domain);
    }
    systemHomes = parseSystemPasswd((await readEtc('passwd')) ?? '');
  }

  const users = await reader.resolveSystemPath('var/cpanel/users');
  if (users.ok) {
    const listed = await reader.listKnownDir(users.rel);
    if (listed.ok) {
      for (const e of listed.entries) {
        if (e.name.startsWith('.')) continue;
        if (e.kind === 'symlink') {
          sink.add({ kind: 'symlink-outside-account', path: joinRel(users.rel, e.name), detail: 'cPanel user file is a symlink; not read' });
          continue;
        }
        if (e.kind === 'file') entry(e.name).sources.add('cpuser');
      }
    }
  }

  const top = await reader.listKnownDir('');
  for (const base of top.ok ? top.entries : []) {
    if (!homeBase.test(base.name) || (base.kind !== 'dir' && base.kind !== 'symlink')) continue;
    const resolved = await reader.resolveSystemPath(base.name);
    if (!resolved.ok) {
      await noteRefusal(ctx, resolved, `/${base.name}`);
      continue;
    }
    for (const found of await reader.globFiles(resolved.rel, ['*/etc/*/passwd'])) {
      const user = found.name.slice(resolved.rel.length + 1).split('/')[0]!;
      const e = entry(user);
      e.sources.add('home-passwd');
      e.home ??= joinRel(base.name, user);
    }
  }

  const accounts: CpanelAccountRef[] = [];
  for (const [user, e] of [...byUser.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const problem = checkNameSegment(user);
    if (problem || user.startsWith('.')) {
      sink.add({ kind: 'unsafe-name', path: user, detail: `account name is unsafe as a path (${problem ?? 'starts with a dot'}); skipped` });
      continue;
    }
    const fromPasswd = systemHomes.get(user);
    const homeConfigured = fromPasswd && fromPasswd.startsWith('/') && fromPasswd !== '/' ? fromPasswd.replace(/^\/+/, '').replace(/\/+$/, '') : (e.home ?? `home/${user}`);
    accounts.push({
      user,
      sources: [...e.sources].sort(),
      homeConfigured,
      domainsFromMaps: [...e.domains].sort(),
      ...(e.primary ? { primaryDomainFromMaps: e.primary } : {}),
    });
  }
  return { accounts, findings: sink.list };
}
