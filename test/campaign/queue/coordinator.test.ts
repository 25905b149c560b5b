import { describe, expect, it } from 'vitest';
import { decideAdmission } from '../../../src/campaign/queue/coordinator.js';

describe('decideAdmission', () => {
  it('lets as many jobs again wait in each group queue when the groups cannot exceed the global limit anyway', () => {
    expect(decideAdmission({ global: 6, perGroup: 3 }, 2)).toEqual({ global: 12, perGroup: 6 });
    expect(decideAdmission({ global: 8, perGroup: 8 }, 1)).toEqual({ global: 16, perGroup: 16 });
  });

  it('keeps to the limits exactly when the groups together could run more than the global limit', () => {
    expect(decideAdmission({ global: 5, perGroup: 2 }, 3)).toEqual({ global: 5, perGroup: 2 });
  });
});
