import { describe, expect, it } from 'vitest';
import { ConnectionBudget } from '../../../src/engine/messages/connection-budget.js';

describe('ConnectionBudget', () => {
  it('lends only the connections no folder holds', () => {
    const budget = new ConnectionBudget(3);
    budget.holdOne();
    expect(budget.borrow(5)).toBe(2);
    expect(budget.borrow(1)).toBe(0);
    budget.giveBack(2);
    expect(budget.spare).toBe(2);
  });

  it('lends nothing while folders wait to start: folders come first', () => {
    const budget = new ConnectionBudget(4);
    budget.holdOne();
    budget.setFoldersWaiting(2);
    expect(budget.borrow(3)).toBe(0);
    budget.setFoldersWaiting(0);
    expect(budget.borrow(3)).toBe(3);
  });

  it('hands a waiting borrower a connection once one is given back, and lets a stopped one go empty-handed', async () => {
    const budget = new ConnectionBudget(2);
    budget.holdOne();
    budget.holdOne();
    let isStopped = false;
    const waiting = budget.borrowOneWhenSpare(() => false);
    const giving = budget.borrowOneWhenSpare(() => isStopped);
    budget.giveBack(1);
    expect(await waiting).toBe(true);
    isStopped = true;
    budget.wake();
    expect(await giving).toBe(false);
    expect(budget.spare).toBe(0);
  });
});
