import { describeStoreContract } from '../contract.js';
import { MemoryMail, MemoryStore } from '../../support/memory-store.js';

describeStoreContract('an in-memory store (the contract is about the interface, not files)', {
  empty: async () => {
    const mail = new MemoryMail();
    return { open: async () => new MemoryStore(mail) };
  },
  withProblem: async () => {
    const mail = new MemoryMail();
    const store = new MemoryStore(mail);
    const box = await store.openMailbox('INBOX', 'write');
    await box.append({ content: Buffer.from('Subject: fine\n\nA message.\n'), flags: new Set(), keywords: new Set() });
    mail.plantProblem('INBOX', 'cut off in the middle');
    return { open: async () => new MemoryStore(mail) };
  },
});
