import { describe, expect, it } from 'vitest';
import { formatSubscriptionsV2, parseSubscriptions } from '../../../converters/folders/subscriptions.js';

describe('subscriptions', () => {
  it('reads version 1 (one name per line, namespace separator, INBOX. prefix stripped)', () => {
    expect(parseSubscriptions('Sent\nINBOX.Clients.ACME\nTrash.\n')).toEqual(['Sent', 'Clients/ACME', 'Trash']);
    expect(parseSubscriptions('Work/Projects\nsent-mail\n', '/')).toEqual(['Work/Projects', 'sent-mail']);
  });
  it('writes and reads version 2 with TAB-separated levels and Dovecot escaping', () => {
    const text = formatSubscriptionsV2(['Work/Projects', 'Sent', 'odd\tname']);
    expect(text).toBe('V\t2\n\nSent\nWork\tProjects\nodd\u0001tname\n');
    expect(parseSubscriptions(text)).toEqual(['Sent', 'Work/Projects', 'odd\tname']);
  });
});
