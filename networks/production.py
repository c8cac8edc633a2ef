"""The production network: MPS for the nettbank, Vipps for the Vipps app, behind one interface.

A company in production mode has an agreement with Mastercard Payment Services (the "nettbank"
channel, :class:`~.mps.MpsNetwork`), with Vipps (the "vipps" channel, :class:`~.vipps.VippsNetwork`),
or both. :class:`ProductionNetwork` gives the dispatcher one :class:`~.base.Network` over them:

* ``submit``, ``status`` and ``cancel`` go to the network of their channel; a channel whose
  network is not configured is refused with ``NetworkRejected(code="NOT_CONFIGURED")``, a
  channel nobody knows with ``code="UNKNOWN_CHANNEL"``.
* ``lookup`` asks MPS for the eFaktura identifiers of all recipients, then Vipps whether those
  with a mobile number receive eFaktura in Vipps, and merges the two answers per recipient.
  See :meth:`ProductionNetwork.lookup` for what happens when one side fails.
* :meth:`ProductionNetwork.network_name` says which network carries a channel ("mps" or "vipps"),
  for the outbox; ``name`` itself is "production".
"""

from .base import LookupResult, Network, NetworkError, NetworkRejected
from .mps import CHANNEL as NETTBANK_CHANNEL
from .vipps import CHANNEL as VIPPS_CHANNEL

NOT_CONFIGURED = "NOT_CONFIGURED"
UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
#: The network each channel is carried by, and what the outbox calls it.
CHANNEL_NETWORKS = {NETTBANK_CHANNEL: "mps", VIPPS_CHANNEL: "vipps"}


class ProductionNetwork(Network):
    """MPS and Vipps as one network.

    :param Issuer issuer: the issuer both agreements are for.
    :param mps: the :class:`~.mps.MpsNetwork` for the "nettbank" channel, or None when the company
        has no MPS agreement.
    :param vipps: the :class:`~.vipps.VippsNetwork` for the "vipps" channel, or None when the
        company has no Vipps agreement.

    After each ``lookup``, ``lookup_errors`` maps the channel of a side that failed to its error,
    and ``unanswered`` maps the ref of every recipient whose answer is incomplete (a side failed
    for all, or Vipps failed for that one) to the error. The dispatcher retries those recipients'
    lookup with backoff rather than take half an answer for "no eFaktura".
    """

    name = "production"

    def __init__(self, issuer, mps=None, vipps=None):
        super().__init__(issuer)
        self.networks = {NETTBANK_CHANNEL: mps, VIPPS_CHANNEL: vipps}
        for channel, network in self.networks.items():
            if network is None:
                continue
            if not isinstance(network, Network):
                raise TypeError(f"ProductionNetwork: the {channel} network must be a Network, not {network!r}")
            org_number = getattr(network.issuer, "org_number", None)
            if issuer is not None and org_number and org_number != issuer.org_number:
                raise ValueError(
                    f"ProductionNetwork: the {channel} network is for issuer {org_number}, not for {issuer.org_number}"
                )
        self.lookup_errors = {}
        self.unanswered = {}

    @property
    def mps(self):
        return self.networks[NETTBANK_CHANNEL]

    @property
    def vipps(self):
        return self.networks[VIPPS_CHANNEL]

    def configured_channels(self):
        """The channels with a network, in the order the lookup asks them."""
        return tuple(channel for channel, network in self.networks.items() if network is not None)

    def network_name(self, channel):
        """The name of the network that carries ``channel``: "mps" for "nettbank", "vipps" for "vipps".

        The name is given for a channel even when its network is not configured, so that a refusal
        with ``NOT_CONFIGURED`` can be recorded against it.
        """
        if channel not in CHANNEL_NETWORKS:
            raise self._unknown_channel(channel)
        network = self.networks[channel]
        return network.name if network is not None else CHANNEL_NETWORKS[channel]

    def _route(self, channel, operation):
        if channel not in self.networks:
            raise self._unknown_channel(channel)
        network = self.networks[channel]
        if network is None:
            raise NetworkRejected(
                f"Production network: cannot {operation} by {channel!r}, no {CHANNEL_NETWORKS[channel]} "
                "agreement is configured for the company",
                code=NOT_CONFIGURED,
            )
        return network

    @staticmethod
    def _unknown_channel(channel):
        return NetworkRejected(
            f"Production network: unknown channel {channel!r}, expected one of {', '.join(CHANNEL_NETWORKS)}",
            code=UNKNOWN_CHANNEL,
        )

    def lookup(self, recipients):
        """Each recipient's eFaktura identifier (from MPS) and Vipps preference (from Vipps).

        MPS is asked for every recipient; Vipps only for recipients with a mobile number. The
        result for a recipient takes ``efaktura_identifier`` from MPS and ``vipps`` and
        ``vipps_recipient`` from Vipps; a side that is not configured, or not asked, contributes
        nothing (no identifier, no Vipps).

        When a side fails (raises :class:`~.base.NetworkError`, retryable or not):

        * if the other side answered, its answer is returned and the failed side contributes
          nothing; the error is kept in ``lookup_errors`` under its channel;
        * if no side answered, the call raises: a retryable error when either side had one (so the
          dispatcher tries again later rather than taking the recipients as unreachable), else the
          first error.

        Raises ``NetworkRejected(code="NOT_CONFIGURED")`` when neither network is configured.
        """
        recipients = list(recipients)
        self.lookup_errors = {}
        self.unanswered = {}
        if not self.configured_channels():
            raise NetworkRejected(
                "Production network: no MPS or Vipps agreement is configured for the company", code=NOT_CONFIGURED
            )
        if not recipients:
            return {}
        answers = {}
        for channel in self.configured_channels():
            asked = recipients if channel == NETTBANK_CHANNEL else [r for r in recipients if r.mobile]
            if not asked:
                continue
            try:
                answers[channel] = self.networks[channel].lookup(asked)
            except NetworkError as exc:
                self.lookup_errors[channel] = exc
                self.unanswered.update(dict.fromkeys((r.ref for r in asked), exc))
            else:
                self.unanswered.update(getattr(self.networks[channel], "lookup_errors", None) or {})
        if self.lookup_errors and not answers:
            errors = list(self.lookup_errors.values())
            raise next((error for error in errors if error.retryable), errors[0])
        from_mps = answers.get(NETTBANK_CHANNEL, {})
        from_vipps = answers.get(VIPPS_CHANNEL, {})
        results = {}
        for recipient in recipients:
            ref = recipient.ref
            identifier = from_mps.get(ref)
            vipps = from_vipps.get(ref)
            results[ref] = LookupResult(
                ref=ref,
                efaktura_identifier=identifier.efaktura_identifier if identifier else "",
                vipps=bool(vipps and vipps.vipps),
                vipps_recipient=vipps.vipps_recipient if vipps and vipps.vipps else "",
            )
        return results

    def submit(self, channel, documents):
        """Deliver by the channel's network: MPS for "nettbank", Vipps for "vipps".

        Both networks are idempotent on the documents' keys, so a resubmission comes back with
        ``duplicate=True`` and nothing new reaches the consumer.
        """
        return self._route(channel, "submit").submit(channel, documents)

    def status(self, channel, references):
        return self._route(channel, "read the status").status(channel, references)

    def cancel(self, channel, reference):
        return self._route(channel, "cancel").cancel(channel, reference)
