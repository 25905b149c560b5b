import { describe, expect, it } from 'vitest';
import { decideDuplicates, matchByMessageId } from '../../../../src/engine/tree/resync/dedupe.js';

describe('duplicates', () => {
  it('treats a candidate as a duplicate only with the same Message-ID and the same content key', () => {
    const candidates = [
      { id: 'new/a', messageId: '<x@y>', contentKey: 'k1' },
      { id: 'new/b', messageId: '<x@y>', contentKey: 'other' },
      { id: 'new/c' },
    ];
    const targets = [{ id: 'new/t', messageId: '<x@y>', contentKey: 'k1' }];
    expect([...decideDuplicates(candidates, targets)]).toEqual(['new/a']);
  });

  it('lets one target message stand for one source copy only', () => {
    const candidates = [
      { id: 'a', messageId: '<x>', contentKey: 'k' },
      { id: 'b', messageId: '<x>', contentKey: 'k' },
    ];
    expect(decideDuplicates(candidates, [{ id: 't', messageId: '<x>', contentKey: 'k' }]).size).toBe(1);
  });

  it('never dedupes messages without a Message-ID', () => {
    expect(decideDuplicates([{ id: 'a', contentKey: 'k' }], [{ id: 't', contentKey: 'k' }]).size).toBe(0);
  });

  it('asks for the content of Message-ID matches only', () => {
    const matched = matchByMessageId(
      [{ id: 'a', messageId: '<1>' }, { id: 'b', messageId: '<2>' }, { id: 'c' }],
      [{ id: 't1', messageId: '<1>' }, { id: 't3', messageId: '<3>' }],
    );
    expect([...matched.candidates]).toEqual(['a']);
    expect([...matched.targets]).toEqual(['t1']);
  });
});
