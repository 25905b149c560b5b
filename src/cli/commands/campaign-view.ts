import type { CampaignEvent } from '../../campaign/run.js';
import { formatBytes, formatDuration, printable } from '../render.js';

/**
 * How a running campaign is shown. On a terminal: a fleet line (accounts done, running, failed, of total; bytes done
 * of total; rate; ETA by bytes, since message counts say little about time) and one line per running account,
 * redrawn in place. Not on a terminal: one log line per state change. `--json`: every event as one JSON line.
 */
export type ViewMode = 'terminal' | 'lines' | 'json';

export interface CampaignView {
  readonly onEvent: (event: CampaignEvent) => void;
  readonly finish: () => void;
}

interface RunningAccount {
  readonly stage: string;
  bytes: number;
  items: number;
  totalBytes?: number;
  readonly sizeBytes?: number;
}

/** What the fleet line is drawn from, updated by every event. */
export interface FleetState {
  total: number;
  finished: number;
  failed: number;
  bytesTotal: number;
  /** Bytes of accounts that ended (their size where the plan gave one). */
  bytesFinished: number;
  /** The last stage of this run: an account has ended when it finishes that one, or stops at any. */
  lastStage?: string;
  readonly running: Map<string, RunningAccount>;
  /** Accounts whose bytes are in bytesFinished. */
  readonly counted: Set<string>;
  readonly startedAt: number;
}

export function createFleetState(startedAt: number): FleetState {
  return { total: 0, finished: 0, failed: 0, bytesTotal: 0, bytesFinished: 0, running: new Map(), counted: new Set(), startedAt };
}

export function applyEvent(fleet: FleetState, event: CampaignEvent): void {
  switch (event.type) {
    case 'campaign-start':
      fleet.total = event.toRun;
      fleet.bytesTotal = event.bytesTotal;
      fleet.lastStage = event.stages[event.stages.length - 1];
      break;
    case 'account-start':
      fleet.running.set(event.id, { stage: event.stage, bytes: 0, items: 0, ...(event.sizeBytes !== undefined ? { sizeBytes: event.sizeBytes } : {}) });
      break;
    case 'account-progress': {
      const account = fleet.running.get(event.id);
      if (account) Object.assign(account, { bytes: event.bytes, items: event.items, ...(event.totalBytes !== undefined ? { totalBytes: event.totalBytes } : {}) });
      break;
    }
    case 'account-end': {
      const account = fleet.running.get(event.id);
      fleet.running.delete(event.id);
      const isFinished = event.status === 'done' || event.status === 'done-with-skips';
      if (!isFinished || event.stage === fleet.lastStage) fleet.finished++;
      if (event.status === 'failed') fleet.failed++;
      // Its size counts once, when its first stage of this run finishes (a cutover or verify moves no new bulk).
      if (isFinished && !fleet.counted.has(event.id)) {
        fleet.counted.add(event.id);
        fleet.bytesFinished += account?.sizeBytes ?? event.bytes;
      }
      break;
    }
    default:
      break;
  }
}

/** "12/300 accounts done, 6 running, 1 failed; 1.2 GB of 40 GB, 25 MB/s, ETA 26m" */
export function formatFleetLine(fleet: FleetState, now: number): string {
  const runningBytes = [...fleet.running.values()].reduce((sum, account) => sum + Math.min(account.bytes, account.sizeBytes ?? account.bytes), 0);
  const done = fleet.bytesFinished + runningBytes;
  const elapsedS = Math.max((now - fleet.startedAt) / 1000, 0.001);
  const rate = done / elapsedS;
  const eta = fleet.bytesTotal > done && rate > 0 ? `, ETA ${formatDuration(((fleet.bytesTotal - done) / rate) * 1000)}` : '';
  const bytes = fleet.bytesTotal > 0 ? `${formatBytes(done)} of ${formatBytes(fleet.bytesTotal)}` : formatBytes(done);
  return `${fleet.finished}/${fleet.total} accounts ended, ${fleet.running.size} running, ${fleet.failed} failed; ${bytes}, ${formatBytes(rate)}/s${eta}`;
}

export function formatEventLine(event: CampaignEvent): string | undefined {
  switch (event.type) {
    case 'campaign-start':
      return `campaign: ${event.stages.join(', ')} for ${event.toRun} of ${event.accounts} account(s)${event.alreadyDone > 0 ? ` (${event.alreadyDone} already done)` : ''}${event.resumed.length > 0 ? `; ${event.resumed.length} interrupted account(s) resumed` : ''}`;
    case 'account-start':
      return `${printable(event.id)}: ${event.stage} started${event.worker ? ` on ${printable(event.worker)}` : ''}${event.attempt > 1 ? ` (attempt ${event.attempt})` : ''}`;
    case 'account-end':
      return `${printable(event.id)}: ${event.stage} ${event.status}: ${event.items} item(s), ${formatBytes(event.bytes)}${event.skipped > 0 ? `, ${event.skipped} skipped` : ''}, ${formatDuration(event.durationMs)}${event.error ? ` (${printable(event.error)})` : ''}`;
    case 'account-retry':
      return `${printable(event.id)}: ${event.stage} failed for a temporary reason, retry ${event.attempt} in ${formatDuration(event.delayMs)}: ${printable(event.error)}`;
    case 'account-refused':
      return `${printable(event.id)} (line ${event.line}): not started: ${printable(event.reason)}`;
    case 'waiting-for-load':
      return `group ${printable(event.group)}: source load ${event.load.toFixed(2)} per CPU is above --max-load ${event.maxLoad}: no new account starts there until it drops`;
    case 'campaign-end':
      return `campaign ${event.interrupted ? 'interrupted' : 'ended'}: ${Object.entries(event.counts)
        .filter(([, count]) => count > 0)
        .map(([status, count]) => `${count} ${status}`)
        .join(', ')}`;
    case 'account-progress':
      return undefined;
  }
}

export function createCampaignView(mode: ViewMode, write: { out: (text: string) => void; err: (text: string) => void }, now: () => number = Date.now): CampaignView {
  if (mode === 'json') return { onEvent: (event) => write.out(`${JSON.stringify({ at: new Date(now()).toISOString(), ...event })}\n`), finish: () => {} };
  if (mode === 'lines') {
    return {
      onEvent: (event) => {
        const line = formatEventLine(event);
        if (line) write.err(`${line}\n`);
      },
      finish: () => {},
    };
  }
  const fleet = createFleetState(now());
  let drawnLines = 0;
  let lastDraw = 0;
  const draw = (force: boolean) => {
    if (!force && now() - lastDraw < 200) return;
    lastDraw = now();
    const lines = [formatFleetLine(fleet, now()), ...[...fleet.running.entries()].slice(0, 12).map(([id, account]) => formatAccountLine(id, account))];
    // Back to the first line drawn last time, then every line cleared and drawn again.
    write.err(`${drawnLines > 0 ? `\x1b[${drawnLines}A` : ''}\r${lines.map((line) => `\x1b[2K${line}\n`).join('')}\x1b[J`);
    drawnLines = lines.length;
  };
  return {
    onEvent: (event) => {
      applyEvent(fleet, event);
      const line = event.type === 'account-end' || event.type === 'account-progress' || event.type === 'account-start' ? undefined : formatEventLine(event);
      if (line || (event.type === 'account-end' && event.status !== 'done')) {
        // A line that stays (a failure, a refusal) is written above the live block.
        write.err(`${drawnLines > 0 ? `\x1b[${drawnLines}A\r\x1b[J` : ''}${line ?? formatEventLine(event)}\n`);
        drawnLines = 0;
      }
      draw(event.type !== 'account-progress');
    },
    finish: () => draw(true),
  };
}

function formatAccountLine(id: string, account: RunningAccount): string {
  const total = account.totalBytes ?? account.sizeBytes;
  const share = total && total > 0 ? ` ${Math.min(100, Math.round((account.bytes / total) * 100))}%` : '';
  return `  ${printable(id)}: ${account.stage}${share} ${account.items} item(s) ${formatBytes(account.bytes)}${total ? ` of ${formatBytes(total)}` : ''}`;
}
