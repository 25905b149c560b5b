import type { StorePair } from './store-pair.js';

/** `--justlogin`: what each end said when logged in to (IMAP), or that it needed no login. */
export interface LoginFacts {
  readonly side: 'source' | 'target';
  readonly label: string;
  readonly login?: { readonly credential: string; readonly namespace: { readonly prefix: string; readonly delimiter?: string | null }; readonly capabilities: readonly string[] };
  /** For an end without a login: what it is (maildir, mbox). */
  readonly kind?: string;
}

export function describeLogins(pair: StorePair): LoginFacts[] {
  return (['source', 'target'] as const).map((side) => {
    const opened = pair[side];
    const facts = opened.store.serverFacts;
    return facts ? { side, label: opened.label, login: { credential: facts.credential, namespace: facts.namespace, capabilities: facts.capabilities } } : { side, label: opened.label, kind: opened.store.kind };
  });
}
