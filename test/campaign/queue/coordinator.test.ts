import { describe, expect, it } from 'vitest';
import { decideAdmission, decideStageTimeoutMs } from '../../../src/campaign/queue/coordinator.js';

describe('decideAdmission', () => {
  it('lets as many jobs again wait in each group queue when the groups cannot exceed the global limit anyway', () => {
    expect(decideAdmission({ global: 6, perGroup: 3 }, 2)).toEqual({ global: 12, perGroup: 6 });
    expect(decideAdmission({ global: 8, perGroup: 8 }, 1)).toEqual({ global: 16, perGroup: 16 });
  });

  it('keeps to the limits exactly when the groups together could run more than the global limit', () => {
    expect(decideAdmission({ global: 5, perGroup: 2 }, 3)).toEqual({ global: 5, perGroup: 2 });
  });
});

describe('decideStageTimeoutMs', () => {
  it('gives a stage what is left of the account\'s time limit after its earlier stages', () => {
    expect(decideStageTimeoutMs(86_400_000, 0)).toBe(86_400_000);
    expect(decideStageTimeoutMs(60_000, 45_000)).toBe(15_000);
  });

  it('gives an account with no time left 1 ms, so its job stops at once and reports it timed out', () => {
    expect(decideStageTimeoutMs(60_000, 60_000)).toBe(1);
    expect(decideStageTimeoutMs(60_000, 90_000)).toBe(1);
  });
});
