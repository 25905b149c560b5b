import { describe, expect, it } from 'vitest';
import { readMboxMetadata, parseHeaderFields } from '../../../converters/mbox/metadata.js';
import { decideMboxPlacement } from '../../../converters/mbox/placement.js';

const metaOf = (text: string) => {
  const header = Buffer.from(text);
  return readMboxMetadata(header, parseHeaderFields(header));
};

describe('decideMboxPlacement', () => {
  it('keeps a message in its file folder with the flags and keywords of its headers', () => {
    const placement = decideMboxPlacement(metaOf('Status: RO\nX-Status: AF\nX-Keywords: Work $Label1\n\n'), 'Work/Projects', 'folders');
    expect(placement).toMatchObject({ folders: ['Work/Projects'], isRouted: false, passed: false, isNew: false });
    expect([...placement.flags].sort()).toEqual(['\\Answered', '\\Flagged', '\\Seen']);
    expect([...placement.keywords]).toEqual(['Work', '$Label1']);
  });

  it('routes a Gmail Takeout message to one folder per folder label, or to one folder with the rest as keywords', () => {
    const meta = metaOf('X-Gmail-Labels: Inbox,Opened,"Work, old",Clients/ACME\n\n');
    expect(decideMboxPlacement(meta, 'All mail', 'folders')).toMatchObject({ folders: ['INBOX', 'Work, old', 'Clients/ACME'], isRouted: true });
    const single = decideMboxPlacement(meta, 'All mail', 'single');
    expect(single.folders).toEqual(['INBOX']);
    expect([...single.keywords]).toEqual(['Work,_old', 'Clients/ACME']);
    expect(decideMboxPlacement(meta, 'All mail', 'ignore')).toMatchObject({ folders: ['All mail'], isRouted: false });
  });

  it('marks a message no client has seen as new', () => {
    expect(decideMboxPlacement(metaOf('Subject: x\n\n'), 'INBOX', 'folders').isNew).toBe(true);
  });
});
