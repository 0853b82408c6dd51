"""aiosmtpd handler for the email channel's integration tests.

Used as ``python -m aiosmtpd -n -c herold_smtp_sink.RejectingMailbox <maildir>``
with this directory on PYTHONPATH. Stores accepted mail in a Maildir like
``aiosmtpd.handlers.Mailbox`` and rejects by the recipient's local part:

* ``gone…``  at RCPT with ``550 5.1.1 no such user``
* ``busy…``  at RCPT with ``451 4.3.0 mailbox busy, try again later``
* ``full…``  at RCPT with ``552 5.2.2 mailbox full``
* ``spam…``  at DATA with ``550 5.7.1 message rejected as spam``
* ``moody…`` at DATA with ``552 5.2.2 mailbox full`` when the subject
  starts with ``Voll``, else accepted
"""

from aiosmtpd.handlers import Mailbox


def _local(address):
    return address.split("@", 1)[0].lower()


class RejectingMailbox(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = _local(address)
        if local.startswith("gone"):
            return "550 5.1.1 no such user"
        if local.startswith("full"):
            return "552 5.2.2 mailbox full"
        if local.startswith("busy"):
            return "451 4.3.0 mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(_local(r).startswith("spam") for r in envelope.rcpt_tos):
            return "550 5.7.1 message rejected as spam"
        moody = any(_local(r).startswith("moody") for r in envelope.rcpt_tos)
        if moody and b"Subject: Voll" in envelope.original_content:
            return "552 5.2.2 mailbox full"
        return await super().handle_DATA(server, session, envelope)
