import { joinRel, type TreeEntry } from '../../fsops/walk.js';
import { countFilterRules, parseAutoresponderSettings } from './parse.js';
import { parseValiases, parseVdomainaliases } from '../files.js';
import { reportLink, noteRefusal, type ScanContext } from './scan-context.js';
import type { AutoresponderInfo, CatchAllInfo, DomainForwarderInfo, ForwarderInfo, SpamAssassinInfo, WebmailInfo } from './types.js';

/**
 * The per-account data around the mailboxes that a migration must carry or recreate: routing tables in /etc,
 * filters, autoresponders, SpamAssassin and webmail data (cpanel-layout.md §4, §6, §7, §8).
 */

/** Reads ROOT/etc/<table>/<domain> through the resolved system directory; links there are reported, not read. */
async function readRoutingTable(ctx: ScanContext, table: 'valiases' | 'vdomainaliases' | 'vfilters', domain: string): Promise<string | undefined> {
  const dir = await ctx.reader.resolveSystemPath(`etc/${table}`);
  if (!dir.ok) return undefined;
  const read = await ctx.reader.readText(dir.rel, domain);
  if (!read.ok) {
    await noteRefusal(ctx, read, `/etc/${table}/${domain}`);
    return undefined;
  }
  return read.text;
}

export async function readRouting(ctx: ScanContext, user: string, domains: readonly string[]): Promise<{
  forwarders: ForwarderInfo[];
  catchAlls: CatchAllInfo[];
  domainForwarders: DomainForwarderInfo[];
  accountFilters: { domain: string; rules: number }[];
}> {
  const forwarders: ForwarderInfo[] = [];
  const catchAlls: CatchAllInfo[] = [];
  const domainForwarders: DomainForwarderInfo[] = [];
  const accountFilters: { domain: string; rules: number }[] = [];
  for (const domain of domains) {
    const valiases = await readRoutingTable(ctx, 'valiases', domain);
    if (valiases !== undefined) {
      const parsed = parseValiases(valiases, domain, user);
      forwarders.push(...parsed.forwarders);
      if (parsed.catchAll) catchAlls.push(parsed.catchAll);
    }
    const vdomain = await readRoutingTable(ctx, 'vdomainaliases', domain);
    const target = vdomain === undefined ? null : parseVdomainaliases(vdomain, domain);
    if (target) domainForwarders.push({ domain, target });
    const vfilter = await readRoutingTable(ctx, 'vfilters', domain);
    const rules = vfilter === undefined ? 0 : countFilterRules(vfilter);
    if (rules > 0) accountFilters.push({ domain, rules });
  }
  return { forwarders, catchAlls, domainForwarders, accountFilters };
}

/** Entry kinds of one directory listing, by name: lets many presence checks share one readdir. */
export type DirIndex = ReadonlyMap<string, TreeEntry['kind']>;

export function indexEntries(entries: readonly TreeEntry[]): DirIndex {
  return new Map(entries.map((e) => [e.name, e.kind]));
}

/** What stands at dirRel/name according to the listing `index`: a link is reported (and never followed). */
export async function presenceIn(ctx: ScanContext, dirRel: string, index: DirIndex, name: string): Promise<'file' | 'dir' | 'none'> {
  const kind = index.get(name);
  if (kind === 'symlink') {
    await reportLink(ctx, joinRel(dirRel, name));
    return 'none';
  }
  return kind === 'file' ? 'file' : kind === 'dir' ? 'dir' : 'none';
}

/** What stands at home/sub: 'file', 'dir', a link (reported), or nothing. Never follows. One lstat. */
export async function presence(ctx: ScanContext, sub: string): Promise<'file' | 'dir' | 'none'> {
  const dir = sub.includes('/') ? sub.slice(0, sub.lastIndexOf('/')) : '';
  const check = await ctx.reader.verifyDir(ctx.home, dir);
  if (!check.ok) {
    await noteRefusal(ctx, check, sub);
    return 'none';
  }
  const rel = joinRel(ctx.home, sub);
  const st = await ctx.reader.lstat(rel);
  if (!st.ok) return 'none';
  if (st.kind === 'symlink') {
    await reportLink(ctx, rel);
    return 'none';
  }
  return st.kind === 'file' ? 'file' : st.kind === 'dir' ? 'dir' : 'none';
}

async function listHomeDir(ctx: ScanContext, sub: string) {
  const listed = await ctx.reader.list(ctx.home, sub);
  if (!listed.ok) {
    await noteRefusal(ctx, listed, `~/${sub}`);
    return [];
  }
  return listed.entries;
}

/** ~/.autorespond/: ADDRESS (the reply) + ADDRESS.json or ADDRESS.conf (the settings). */
export async function readAutoresponders(ctx: ScanContext, home: DirIndex): Promise<AutoresponderInfo[]> {
  if ((await presenceIn(ctx, ctx.home, home, '.autorespond')) !== 'dir') return [];
  const entries = await listHomeDir(ctx, '.autorespond');
  const out: AutoresponderInfo[] = [];
  const names = new Set(entries.filter((e) => e.kind === 'file').map((e) => e.name));
  for (const e of entries) {
    if (e.kind === 'symlink') {
      await reportLink(ctx, joinRel(ctx.home, '.autorespond', e.name));
      continue;
    }
    if (e.kind !== 'file' || !e.name.includes('@') || /\.(json|conf)$/.test(e.name)) continue;
    const settingsName = names.has(`${e.name}.json`) ? `${e.name}.json` : names.has(`${e.name}.conf`) ? `${e.name}.conf` : undefined;
    let settings = { start: null as number | null, stop: null as number | null, intervalHours: null as number | null };
    if (settingsName) {
      const read = await ctx.reader.readText(joinRel(ctx.home, '.autorespond'), settingsName, 64 * 1024);
      if (read.ok) settings = parseAutoresponderSettings(read.text);
      else await noteRefusal(ctx, read, 'autoresponder settings');
    }
    out.push({ address: e.name, hasSettings: settingsName !== undefined, ...settings });
  }
  return out.sort((a, b) => (a.address < b.address ? -1 : 1));
}

export async function readSpamAssassin(ctx: ScanContext, home: DirIndex): Promise<SpamAssassinInfo> {
  const enabled = await presenceIn(ctx, ctx.home, home, '.spamassassinenable');
  const disabled = await presenceIn(ctx, ctx.home, home, '.spamassassindisabled');
  const spamBox = await presenceIn(ctx, ctx.home, home, '.spamassassinboxenable');
  let userPrefs = false;
  let bayes = false;
  if ((await presenceIn(ctx, ctx.home, home, '.spamassassin')) === 'dir') {
    for (const e of await listHomeDir(ctx, '.spamassassin')) {
      if (e.kind !== 'file') continue;
      if (e.name === 'user_prefs') userPrefs = true;
      if (e.name.startsWith('bayes_')) bayes = true;
    }
  }
  return { enabled: enabled === 'file', disabled: disabled === 'file', spamBox: spamBox === 'file', userPrefs, bayes };
}

/** Webmail data; the Roundcube databases were collected from the ~/etc listings by the caller. */
export async function readWebmail(ctx: ScanContext, home: DirIndex, roundcubeDatabases: readonly string[]): Promise<WebmailInfo> {
  let hordeBytes = 0;
  let horde = false;
  if ((await presenceIn(ctx, ctx.home, home, '.cphorde')) === 'dir' && (await presence(ctx, '.cphorde/horde.sqlite')) === 'file') {
    horde = true;
    const st = await ctx.reader.lstat(joinRel(ctx.home, '.cphorde/horde.sqlite'));
    if (st.ok) hordeBytes = st.stats.size;
  }
  let sqFiles = 0;
  if ((await presenceIn(ctx, ctx.home, home, '.sqmaildata')) === 'dir') {
    sqFiles = (await listHomeDir(ctx, '.sqmaildata')).filter((e) => e.kind === 'file').length;
  }
  return {
    horde: { present: horde, sizeBytes: hordeBytes },
    squirrelmail: { present: sqFiles > 0, files: sqFiles },
    roundcube: { present: roundcubeDatabases.length > 0, databases: [...roundcubeDatabases].sort() },
  };
}
