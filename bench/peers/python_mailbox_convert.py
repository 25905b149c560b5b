#!/usr/bin/env python3
"""Benchmark peer: mbox -> Maildir with nothing but Python's standard `mailbox` module.

    python3 bench/peers/python_mailbox_convert.py SOURCE.mbox TARGET_MAILDIR

This is the conversion the Python documentation suggests: each mboxMessage becomes a MaildirMessage, which carries
the flags over (Status/X-Status R->S, A->R, F->F, D->T, O->cur/), drops the Status headers and takes the From_
line's date as the file's mtime. Prints the number of messages written. The source is only read: mailbox.mbox
writes back only on flush() with pending changes, and we make none.
"""
import mailbox
import sys


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: python_mailbox_convert.py SOURCE.mbox TARGET_MAILDIR\n")
        return 2
    source = mailbox.mbox(argv[1], create=False)
    target = mailbox.Maildir(argv[2], factory=None, create=True)
    count = 0
    try:
        for message in source.itervalues():
            target.add(mailbox.MaildirMessage(message))
            count += 1
    finally:
        source.close()
    print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
