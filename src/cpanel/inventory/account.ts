import { throwIfAborted } from '../../core/errors.js';
import { joinRel, type ListResult, type TreeEntry, type TreeReader } from '../../fsops/walk.js';
import { indexEntries, presence, presenceIn, readAutoresponders, readRouting, readSpamAssassin, readWebmail, type DirIndex } from './extras.js';
import { detectFormat, scanMailbox, type MailboxScan } from './mailbox.js';
import { isDomainDirName } from '../layout.js';
import { parseCpuserFile, parseMailPasswd, parseQuotaFile, parseShadowStates } from '../files.js';
import { checkNameSegment } from '../unsafe.js';
import { reportLink, FindingSink, isModeUnreadable, noteRefusal, type ScanContext } from './scan-context.js';
import type { CpanelAccount, CpanelAccountRef, CpuserInfo, DomainInfo, MailboxFormat, MailboxInventory, PasswordState, QuotaInfo } from './types.js';

export interface ReadAccountOptions {
  /** Stat every message file instead of trusting ",S=" sizes (slower; finds unreadable modes and sparse files). */
  statEveryMessage?: boolean;
  /** Findings kept per account (the rest are counted in findingsDropped). */
  findingsCap?: number;
  signal?: AbortSignal;
}

/** Per-domain tables from ~/etc/DOMAIN (cpanel-layout.md §3). */
interface DomainEtc {
  readonly roundcubeLocals: ReadonlySet<string>;
  readonly filterLocals: ReadonlySet<string>;
  readonly locals: string[];
  readonly shadow: Map<string, Exclude<PasswordState, 'missing' | 'system'>>;
  readonly quota: Map<string, number | null>;
}

/** Dot entries, cPanel's auth cache and BoxTrapper are not mailboxes (Cpanel/Email/Perms/User.pm). */
const notMailboxDirs = new Set(['@pwcache', 'boxtrapper']);

const emptyScan = (format: MailboxFormat): MailboxScan => ({ format, countMethod: 'none', folders: [], maildirsize: null, otherDirs: [], mailboxLinks: 0 });

function normalizeFormat(value: string | null | undefined): MailboxFormat | undefined {
  const v = value?.trim().toLowerCase();
  return v === 'maildir' || v === 'mdbox' || v === 'mbox' ? v : undefined;
}

/**
 * Reads everything discover and copy need to know about one account. Never throws for what it finds on disk
 * (unreadable, links, odd names become findings); throws only when aborted or on an internal error.
 */
export async function readAccount(reader: TreeReader, ref: CpanelAccountRef, options: ReadAccountOptions = {}): Promise<CpanelAccount> {
  const sink = new FindingSink(options.findingsCap ?? 1000);
  const base = { statEveryMessage: options.statEveryMessage ?? false, findings: sink, reader, ...(options.signal ? { signal: options.signal } : {}) };

  // 1. cPanel user file (format, UTF8MAILBOX, domains).
  let cpuser: CpuserInfo | null = null;
  const usersDir = await reader.resolveSystemPath('var/cpanel/users');
  if (usersDir.ok && ref.sources.includes('cpuser')) {
    const read = await reader.readText(usersDir.rel, ref.user, 1024 * 1024);
    if (read.ok) cpuser = parseCpuserFile(read.text);
    else await noteRefusal({ ...base, home: '', utf8Names: false }, read, 'cPanel user file');
  }
  const ctx: ScanContext = { ...base, home: ref.homeConfigured, utf8Names: cpuser?.utf8MailboxNames ?? false };

  // 2. The home directory: system links resolved inside ROOT, never outside it.
  const resolvedHome = await reader.resolveSystemPath(ref.homeConfigured);
  let home: string | null = null;
  if (resolvedHome.ok) {
    const st = await reader.lstat(resolvedHome.rel);
    if (st.ok && st.kind === 'dir') home = resolvedHome.rel;
  } else {
    await noteRefusal({ ...ctx, home: '' }, resolvedHome, `home directory of ${ref.user}`);
  }

  const domainNames = new Map<string, Set<DomainInfo['sources'][number]>>();
  const addDomain = (name: string, source: DomainInfo['sources'][number]) => {
    const key = name.toLowerCase();
    if (!domainNames.has(key)) domainNames.set(key, new Set());
    domainNames.get(key)!.add(source);
  };
  for (const d of cpuser?.domains ?? []) addDomain(d, 'cpuser');
  for (const d of ref.domainsFromMaps) addDomain(d, ref.primaryDomainFromMaps === d ? 'trueuserdomains' : 'userdomains');

  const mailboxes: MailboxInventory[] = [];
  let formatMarker: string | null = null;
  let accountFormat: MailboxFormat = normalizeFormat(cpuser?.mailboxFormat) ?? 'maildir';
  const scanCtx: ScanContext = { ...ctx, home: home ?? ref.homeConfigured };

  const roundcubeDatabases: string[] = [];
  let homeIndex: DirIndex = new Map();
  if (home !== null) {
    reader.trustDir(home);
    // One listing of the home answers every "is there a ~/.x" question (SpamAssassin, Horde, autoresponders...).
    const homeListed = await reader.listKnownDir(home);
    if (homeListed.ok) homeIndex = indexEntries(homeListed.entries);
    else await noteRefusal(scanCtx, homeListed, 'home directory');

    // 3. ~/etc/DOMAIN/{passwd,shadow,quota}, filters and Roundcube databases
    const etcByDomain = new Map<string, DomainEtc>();
    const etcRel = joinRel(home, 'etc');
    let etcIndex: DirIndex = new Map();
    if ((await presenceIn(scanCtx, home, homeIndex, 'etc')) === 'dir') {
      const etcListed = await reader.listKnownDir(etcRel);
      if (etcListed.ok) {
        reader.trustDir(etcRel);
        etcIndex = indexEntries(etcListed.entries);
        for (const e of etcListed.entries) {
          const entryRel = joinRel(etcRel, e.name);
          if (e.kind === 'symlink') {
            await reportLink(scanCtx, entryRel);
            continue;
          }
          if (e.kind !== 'dir' || !e.name.includes('.') || e.name.startsWith('.')) continue;
          const problem = checkNameSegment(e.name);
          if (problem) {
            sink.add({ kind: 'unsafe-name', path: entryRel, detail: `domain directory name is unsafe (${problem}); not read` });
            continue;
          }
          const etc = await readDomainEtc(scanCtx, home, e.name);
          if (etc) {
            etcByDomain.set(e.name.toLowerCase(), etc);
            addDomain(e.name, 'etc-dir');
            for (const local of etc.roundcubeLocals) roundcubeDatabases.push(joinRel(etcRel, e.name, `${local}.rcube.db`));
          }
        }
      } else await noteRefusal(scanCtx, etcListed, '~/etc');
    }

    // 4. ~/mail: the default mailbox, the format marker, the domain directories.
    const mailKind = await presenceIn(scanCtx, home, homeIndex, 'mail');
    const mailListed: ListResult =
      mailKind === 'dir' ? await reader.listKnownDir(joinRel(home, 'mail')) : { ok: false, reason: homeIndex.get('mail') === 'symlink' ? 'symlink' : 'missing', at: joinRel(home, 'mail') };
    let mailEntries: TreeEntry[] = [];
    if (mailListed.ok) {
      mailEntries = mailListed.entries;
      reader.trustDir(joinRel(home, 'mail'));
      if (mailEntries.some((e) => e.name === 'mailbox_format.cpanel' && e.kind === 'file')) {
        const marker = await reader.readText(joinRel(home, 'mail'), 'mailbox_format.cpanel', 1024);
        if (marker.ok) formatMarker = marker.text.trim();
        else await noteRefusal(scanCtx, marker, 'mailbox_format.cpanel');
      }
    } else if (mailListed.reason !== 'symlink') await noteRefusal(scanCtx, mailListed, '~/mail');
    accountFormat = normalizeFormat(formatMarker) ?? accountFormat;

    const mailRel = joinRel(home, 'mail');
    const defaultScan = mailListed.ok ? await scanMailbox(scanCtx, mailRel, mailEntries, accountFormat, true) : emptyScan(accountFormat);
    const defaultFilter = (await presenceIn(scanCtx, etcRel, etcIndex, 'filter')) === 'file';
    const defaultRcube = (await presenceIn(scanCtx, etcRel, etcIndex, `${ref.user}.rcube.db`)) === 'file';
    if (defaultRcube) roundcubeDatabases.push(joinRel(etcRel, `${ref.user}.rcube.db`));
    mailboxes.push(
      buildMailbox({
        address: ref.user,
        kind: 'default',
        localPart: ref.user,
        domain: null,
        path: mailRel,
        onDisk: mailListed.ok ? 'dir' : mailListed.reason === 'symlink' ? 'link' : 'missing',
        scan: defaultScan,
        // cPanel never puts a quota on the account's own mailbox (cpanel-layout.md §2.1).
        etcQuota: null,
        password: 'system',
        inPasswd: false,
        hasFilter: defaultFilter,
        hasRoundcubeDb: defaultRcube,
      }),
    );

    // 5. Virtual mailboxes: every passwd line and every mailbox-looking directory under ~/mail/DOMAIN.
    const mailDomainDirs = new Map<string, TreeEntry>();
    for (const e of mailEntries) {
      if ((e.kind === 'dir' || e.kind === 'symlink') && isDomainDirName(e.name)) mailDomainDirs.set(e.name.toLowerCase(), e);
    }
    const allDomains = new Set([...etcByDomain.keys(), ...mailDomainDirs.keys()]);
    for (const domain of [...allDomains].sort()) {
      const etc = etcByDomain.get(domain);
      const dirEntry = mailDomainDirs.get(domain);
      if (dirEntry) addDomain(domain, 'mail-dir');
      const domainRel = joinRel(mailRel, dirEntry?.name ?? domain);
      const problem = checkNameSegment(domain);
      if (problem) {
        sink.add({ kind: 'unsafe-name', path: domainRel, detail: `domain directory name is unsafe (${problem}); not opened` });
        continue;
      }
      const dirs = new Map<string, TreeEntry>();
      if (dirEntry?.kind === 'symlink') {
        await reportLink(scanCtx, domainRel);
      } else if (dirEntry) {
        const listed = await reader.listKnownDir(domainRel);
        if (listed.ok) {
          for (const e of listed.entries) {
            if (e.name.startsWith('.') || notMailboxDirs.has(e.name)) continue;
            if (e.kind === 'dir' || e.kind === 'symlink') dirs.set(e.name, e);
          }
        } else await noteRefusal(scanCtx, listed, `mail domain directory ${domain}`);
      }
      const locals = new Set([...(etc?.locals ?? []), ...dirs.keys()]);
      for (const local of [...locals].sort()) {
        throwIfAborted(options.signal);
        const mailboxRel = joinRel(domainRel, local);
        const localProblem = checkNameSegment(local);
        if (localProblem) {
          const where = etc?.locals.includes(local) ? joinRel(home, 'etc', domain, 'passwd') : mailboxRel;
          sink.add({ kind: 'unsafe-name', path: where, detail: `mailbox name ${JSON.stringify(local)} is unsafe as a path (${localProblem}); skipped` });
          continue;
        }
        const inPasswd = etc?.locals.includes(local) ?? false;
        const dir = dirs.get(local);
        let scan = emptyScan(accountFormat);
        let onDisk: MailboxInventory['onDisk'] = 'missing';
        if (dir?.kind === 'symlink') {
          onDisk = 'link';
          await reportLink(scanCtx, mailboxRel);
        } else if (dir) {
          const listed = await reader.listKnownDir(mailboxRel);
          if (listed.ok) {
            // A directory without passwd line counts only when it holds mail (cPanel decides by content too).
            if (!inPasswd && detectFormat(listed.entries) === 'unknown') continue;
            onDisk = 'dir';
            scan = await scanMailbox(scanCtx, mailboxRel, listed.entries, accountFormat, false);
          } else {
            onDisk = 'other';
            await noteRefusal(scanCtx, listed, `mailbox ${local}@${domain}`);
          }
        }
        mailboxes.push(
          buildMailbox({
            address: `${local}@${domain}`,
            kind: 'virtual',
            localPart: local,
            domain,
            path: mailboxRel,
            onDisk,
            scan,
            etcQuota: etc?.quota.get(local) ?? null,
            password: etc?.shadow.get(local) ?? 'missing',
            inPasswd,
            hasFilter: etc?.filterLocals.has(local) ?? false,
            hasRoundcubeDb: etc?.roundcubeLocals.has(local) ?? false,
          }),
        );
      }
    }
  }

  const domains: DomainInfo[] = [...domainNames.entries()].map(([name, sources]) => ({ name, sources: [...sources].sort() }));
  const routing = await readRouting(scanCtx, ref.user, domains.map((d) => d.name).filter((d) => checkNameSegment(d) === undefined));
  const homeKnown = home !== null;
  const mailboxFilters = mailboxes.filter((m) => m.kind === 'virtual' && m.hasFilter).map((m) => m.address);
  return {
    user: ref.user,
    sources: ref.sources,
    home,
    homeConfigured: ref.homeConfigured,
    cpuser,
    primaryDomain: cpuser?.primaryDomain ?? ref.primaryDomainFromMaps ?? null,
    domains,
    formatMarker,
    mailboxes,
    forwarders: routing.forwarders,
    catchAlls: routing.catchAlls,
    domainForwarders: routing.domainForwarders,
    filters: {
      accountFilters: routing.accountFilters,
      accountRuleStore: homeKnown && (await presenceIn(scanCtx, home ?? '', homeIndex, '.cpanel')) === 'dir' && (await presence(scanCtx, '.cpanel/filter.yaml')) === 'file',
      defaultMailboxFilter: mailboxes[0]?.hasFilter ?? false,
      mailboxFilters,
    },
    autoresponders: homeKnown ? await readAutoresponders(scanCtx, homeIndex) : [],
    spamAssassin: homeKnown ? await readSpamAssassin(scanCtx, homeIndex) : { enabled: false, disabled: false, spamBox: false, userPrefs: false, bayes: false },
    webmail: homeKnown
      ? await readWebmail(scanCtx, homeIndex, roundcubeDatabases)
      : { horde: { present: false, sizeBytes: 0 }, squirrelmail: { present: false, files: 0 }, roundcube: { present: false, databases: [] } },
    findings: sink.list,
    findingsDropped: sink.dropped,
  };
}

/**
 * ~/etc/DOMAIN: one listing, then passwd/shadow/quota read when present; Roundcube databases (LOCAL.rcube.db) and
 * per-mailbox filters (LOCAL/filter) taken from the same listing.
 */
async function readDomainEtc(ctx: ScanContext, home: string, domain: string): Promise<DomainEtc | undefined> {
  const dirRel = joinRel(home, 'etc', domain);
  const listed = await ctx.reader.listKnownDir(dirRel);
  if (!listed.ok) {
    await noteRefusal(ctx, listed, `~/etc/${domain}`);
    return undefined;
  }
  ctx.reader.trustDir(dirRel);
  const index = indexEntries(listed.entries);
  const read = async (name: string) => {
    if ((await presenceIn(ctx, dirRel, index, name)) !== 'file') {
      if (index.get(name) === 'other') ctx.findings.add({ kind: 'special-file', path: joinRel(dirRel, name), detail: 'not a regular file; not opened' });
      return undefined;
    }
    const result = await ctx.reader.readText(dirRel, name, 64 * 1024 * 1024);
    if (!result.ok) {
      await noteRefusal(ctx, result, `~/etc/${domain}/${name}`);
      return undefined;
    }
    if (isModeUnreadable(result.mode)) {
      ctx.findings.add({ kind: 'unreadable', path: joinRel(dirRel, name), detail: `mode ${(result.mode & 0o7777).toString(8)} lets nobody read it` });
    }
    if (result.truncated) ctx.findings.add({ kind: 'truncated-read', path: joinRel(dirRel, name), detail: 'file larger than 64 MB; only its start was read' });
    return result.text;
  };
  const passwd = await read('passwd');
  const shadow = await read('shadow');
  const quota = await read('quota');
  const roundcubeLocals = new Set<string>();
  const filterLocals = new Set<string>();
  for (const e of listed.entries) {
    if (e.kind === 'file' && e.name.endsWith('.rcube.db')) roundcubeLocals.add(e.name.slice(0, -'.rcube.db'.length));
    if (e.kind === 'dir' && !e.name.startsWith('.') && e.name !== '@pwcache' && checkNameSegment(e.name) === undefined) {
      if ((await presence(ctx, `etc/${domain}/${e.name}/filter`)) === 'file') filterLocals.add(e.name);
    }
  }
  if (passwd === undefined && shadow === undefined && quota === undefined && roundcubeLocals.size === 0) return undefined;
  return { locals: parseMailPasswd(passwd ?? ''), shadow: parseShadowStates(shadow ?? ''), quota: parseQuotaFile(quota ?? ''), roundcubeLocals, filterLocals };
}

function buildMailbox(input: {
  address: string;
  kind: 'default' | 'virtual';
  localPart: string;
  domain: string | null;
  path: string;
  onDisk: MailboxInventory['onDisk'];
  scan: MailboxScan;
  etcQuota: number | null;
  password: PasswordState;
  inPasswd: boolean;
  hasFilter: boolean;
  hasRoundcubeDb: boolean;
}): MailboxInventory {
  const { scan } = input;
  const counted = scan.countMethod !== 'none';
  const messages = counted ? scan.folders.reduce((n, f) => n + (f.messages ?? 0), 0) : null;
  const sizeBytes = scan.folders.reduce((n, f) => n + f.sizeBytes, 0);
  let newest: number | null = null;
  for (const f of scan.folders) if (f.newestDeliveryMs !== null && (newest === null || f.newestDeliveryMs > newest)) newest = f.newestDeliveryMs;
  const quota: QuotaInfo =
    input.etcQuota !== null
      ? { limitBytes: input.etcQuota, source: 'etc-quota', etcQuotaBytes: input.etcQuota, maildirsize: scan.maildirsize }
      : scan.maildirsize?.limitBytes
        ? { limitBytes: scan.maildirsize.limitBytes, source: 'maildirsize', etcQuotaBytes: null, maildirsize: scan.maildirsize }
        : { limitBytes: null, source: 'none', etcQuotaBytes: null, maildirsize: scan.maildirsize };
  return {
    address: input.address,
    kind: input.kind,
    localPart: input.localPart,
    domain: input.domain,
    path: input.path,
    onDisk: input.onDisk,
    format: scan.format,
    countMethod: scan.countMethod,
    folders: scan.folders,
    messages,
    sizeBytes,
    newestDeliveryMs: newest,
    quota,
    password: input.password,
    inPasswd: input.inPasswd,
    hasFilter: input.hasFilter,
    hasRoundcubeDb: input.hasRoundcubeDb,
  };
}

/**
 * Reads accounts `concurrency` at a time and yields them in the order of `refs`; at most `concurrency` accounts
 * are held in memory at once.
 */
export async function* readAccountsInOrder(
  reader: TreeReader,
  refs: readonly CpanelAccountRef[],
  options: ReadAccountOptions & { concurrency?: number } = {},
): AsyncGenerator<CpanelAccount> {
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const inFlight: Promise<CpanelAccount>[] = [];
  let next = 0;
  const start = () => {
    const ref = refs[next++];
    if (!ref) return;
    const reading = readAccount(reader, ref, options);
    // Awaited in order below; this only keeps a later failure from surfacing as unhandled meanwhile.
    reading.catch(() => undefined);
    inFlight.push(reading);
  };
  for (let i = 0; i < concurrency; i++) start();
  while (inFlight.length > 0) {
    const account = await inFlight.shift()!;
    start();
    yield account;
  }
}
