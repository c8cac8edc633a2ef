"""The sandbox network's records and their store, and a document's life in the mailbox, in plain Python (no Odoo
import).

The registry's consumers (:class:`SandboxConsumer`), the documents in their mailboxes (:class:`MailboxItem`) and the
log of submissions (:class:`SubmissionAttempt`) are kept by a :class:`SandboxStore`, which the module implements on
top of the database (``sandbox/models/``) and the tests in memory. After a submit, a document moves through the
automatic receipts (:func:`advance_state`) until the consumer opens or pays it (:func:`check_consumer_can_show`,
:func:`consumer_pays`). :class:`.network.SandboxNetwork` plays the network on these; :mod:`.network` re-exports every
name here.
"""

import abc
import dataclasses

from ..networks.base import (
    ACCEPTED,
    PAID,
    SHOWN,
    SUBMITTED,
    Document,
    NetworkRejected,
)

# The automatic receipts, one step per advance; paid needs the consumer.
_NEXT_STATE = {SUBMITTED: ACCEPTED, ACCEPTED: SHOWN}


@dataclasses.dataclass(frozen=True)
class SandboxConsumer:
    """A consumer in the JTTA registry."""

    identifier: str  # eFaktura identifier
    name: str
    mobile: str = ""  # E.164
    email: str = ""  # lower case
    national_id_hash: str = ""
    jtta: bool = False  # said "yes to all": receives eFaktura from every issuer
    vipps: bool = False  # receives eFaktura in the Vipps app


@dataclasses.dataclass(frozen=True)
class MailboxItem:
    """A document in a consumer's mailbox.

    ``document``, ``consumer_identifier`` and ``account_number`` are set when the item is created;
    a store may leave them empty when it reads items back, since the logic only needs the reference and the state.
    """

    reference: str
    key: str
    channel: str
    state: str
    consumer_identifier: str = ""
    account_number: str = ""  # the issuer's account the consumer pays to
    document: Document = None
    played: str = ""  # the network whose part the sandbox played: "maventa", or "" (the sandbox's own)
    file_name: str = ""  # the document's file as that network got it (Maventa: Peppol BIS 3.0)
    file: bytes = b""


@dataclasses.dataclass(frozen=True)
class SubmissionAttempt:
    """One document in one submit call, kept whatever the outcome, so double sends show."""

    channel: str
    key: str
    reference: str = ""
    duplicate: bool = False
    failed: bool = False
    error: str = ""
    played: str = ""  # as MailboxItem.played


class SandboxStore(abc.ABC):
    """Where the sandbox keeps its registry, mailboxes and submission log, for one issuer.

    A store holds no rules: it finds and saves what :class:`SandboxNetwork` asks for.
    """

    @abc.abstractmethod
    def hash_national_id(self, national_id):
        """The keyed hash under which the registry keeps national ids; never the clear value.

        :param str national_id: 11 digits
        :rtype: str
        """

    @abc.abstractmethod
    def find_consumers(self, identifiers=(), mobiles=(), emails=(), national_id_hashes=()):
        """Active registry consumers that match any one of the given values.

        :param identifiers: eFaktura identifiers
        :param mobiles: E.164 mobile numbers
        :param emails: lower-case e-mail addresses
        :param national_id_hashes: values from :meth:`hash_national_id`
        :rtype: list[SandboxConsumer]
        """

    @abc.abstractmethod
    def documents_by_key(self, keys):
        """The issuer's mailbox items with these idempotency keys.

        :rtype: dict[str, MailboxItem] keyed by key
        """

    @abc.abstractmethod
    def documents_by_reference(self, references):
        """The issuer's mailbox items with these references.

        :rtype: dict[str, MailboxItem] keyed by reference
        """

    @abc.abstractmethod
    def record_submission(self, items, attempts):
        """Save new mailbox items and log submission attempts, all or nothing.

        :param list[MailboxItem] items: new items, with ``document`` and ``consumer_identifier``
        :param list[SubmissionAttempt] attempts: one per submitted document, failed ones included
        """

    @abc.abstractmethod
    def set_state(self, reference, state):
        """Move one mailbox item to ``state`` and date the change."""


def advance_state(state):
    """The next automatic receipt: submitted to accepted to shown, one step per call.

    Any other state stays as it is: paid needs the consumer to pay, and rejected and cancelled
    are final.
    """
    return _NEXT_STATE.get(state, state)


def check_consumer_can_show(item):
    """Raise NetworkRejected unless the consumer can open the document in the mailbox."""
    if item.state not in (SUBMITTED, ACCEPTED, SHOWN):
        raise NetworkRejected(
            f"Document {item.reference} is {item.state}: only a document in the mailbox can be shown.",
            code="STATE",
        )


def check_consumer_can_pay(item):
    """Raise NetworkRejected unless the consumer can pay the document."""
    if item.state not in (SUBMITTED, ACCEPTED, SHOWN):
        raise NetworkRejected(
            f"Document {item.reference} is {item.state}: only a document in the mailbox can be paid.",
            code="STATE",
        )
    if item.document is not None and item.document.kind == "credit_note":
        raise NetworkRejected(f"Document {item.reference} is a credit note: there is nothing to pay.", code="KIND")


def consumer_pays(store, reference):
    """The consumer pays a document: the only way a document becomes paid."""
    item = store.documents_by_reference([reference]).get(reference)
    if item is None:
        raise NetworkRejected(f"No document with reference {reference}.", code="UNKNOWN")
    check_consumer_can_pay(item)
    store.set_state(reference, PAID)
    return PAID
