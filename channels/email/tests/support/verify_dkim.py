"""Verifies a message's DKIM signature with dkimpy, independently of lettre.

usage: verify_dkim.py MESSAGE_FILE TXT_RECORD

TXT_RECORD is the DNS record the selector would publish
("v=DKIM1; k=rsa; p=..."); it is served for every lookup instead of DNS.
Exits 0 if the signature verifies, 1 if not (with dkimpy's log on stderr).
"""

import logging
import sys

import dkim


def main():
    with open(sys.argv[1], "rb") as f:
        message = f.read()
    record = sys.argv[2].encode()

    def dnsfunc(name, timeout=5):
        return record

    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG)
    ok = dkim.verify(message, logger=logging.getLogger("dkim"), dnsfunc=dnsfunc)
    print("valid" if ok else "invalid")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
