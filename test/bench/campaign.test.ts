import { describe, expect, it } from 'vitest';
// The harness is plain .mjs (benchmarks run without a build step), hence no type declarations.
// @ts-ignore
import { decideOverheads, decideTargets } from '../../bench/campaign.mjs';

const run = (tool: string, round: number, wallSeconds: number, nodeCpuSeconds: number, ok = true) => ({ tool, round, wallSeconds, nodeCpuSeconds, cpuSeconds: nodeCpuSeconds * 2, verification: { ok } });

describe('campaign benchmark: overhead per account', () => {
  it('subtracts the direct copies from the campaign, per round and between the medians, in ms per account', () => {
    const records = [run('campaign', 1, 110, 30), run('direct', 1, 100, 20), run('direct', 2, 104, 21), run('campaign', 2, 108, 31), run('campaign', 3, 150, 33), run('direct', 3, 90, 22)];
    const overheads = decideOverheads(records, 1000);
    expect(overheads.rounds.map((r: { wallMsPerAccount: number }) => r.wallMsPerAccount)).toEqual([10, 4, 60]);
    expect(overheads.rounds[0].nodeCpuMsPerAccount).toBe(10);
    // medians: campaign 110 s, direct 100 s; node CPU 31 s and 21 s
    expect(overheads.medianWallMsPerAccount).toBe(10);
    expect(overheads.medianNodeCpuMsPerAccount).toBe(10);
  });

  it('leaves out a run whose check failed, and says nothing rather than a figure when a side has no good run', () => {
    const records = [run('campaign', 1, 110, 30), run('direct', 1, 1, 1, false)];
    const overheads = decideOverheads(records, 1000);
    expect(overheads.rounds[0].wallMsPerAccount).toBeNull();
    expect(overheads.medianWallMsPerAccount).toBeNull();
  });
});

describe('campaign benchmark: targets', () => {
  const overheads = (ms: number | null) => ({ rounds: [], medianWallMsPerAccount: ms, medianNodeCpuMsPerAccount: null });

  it('judges the overhead at every size, and memory and resume only at 25,000 accounts', () => {
    expect(decideTargets({ accounts: 1000, overheads: overheads(19.9), campaignPeakRssBytes: 500e6, resumeMedianSeconds: 30 })).toEqual({ overheadUnder20ms: true, peakRssUnder300MB: null, resumeUnder10s: null });
    expect(decideTargets({ accounts: 25000, overheads: overheads(20), campaignPeakRssBytes: 300e6, resumeMedianSeconds: 9.9 })).toEqual({ overheadUnder20ms: false, peakRssUnder300MB: false, resumeUnder10s: true });
    expect(decideTargets({ accounts: 25000, overheads: overheads(null), campaignPeakRssBytes: null, resumeMedianSeconds: null })).toEqual({ overheadUnder20ms: null, peakRssUnder300MB: null, resumeUnder10s: null });
  });
});
