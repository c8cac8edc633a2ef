from odoo import api, models
from odoo.exceptions import UserError
from odoo.tools import consteq
from odoo.tools.misc import hmac as hmac_sign

from ..networks import maventa_contract, mps_client, vipps_client
from ..networks.base import NetworkError, NetworkRejected

# Maventa's B2C Norway agreement states and the company's record of them.
MAVENTA_AGREEMENT_STATES = {
    maventa_contract.AGREEMENT_PENDING: "pending",
    maventa_contract.AGREEMENT_SIGNATURE_NEEDED: "signature_needed",
    maventa_contract.AGREEMENT_CONFIRMED: "confirmed",
}


class EfakturaIssuer(models.AbstractModel):
    """A company's issuer agreement with the network: applying for it, reading its approval and closing it, at
    MPS, as Maventa's B2C Norway agreement, or by the sandbox's approval e-mail in Test mode; and the settings'
    connection test of the production route. The state is kept on the company (``efaktura_issuer_state``,
    ``efaktura_maventa_agreement``); every method takes the companies."""

    _name = "efaktura.issuer"
    _description = "eFaktura B2C issuer agreement"

    @api.model
    def _check_data(self, company):
        company.ensure_one()
        missing = [
            label
            for label, value in (
                (self.env._("Issuer organisation number"), company.efaktura_issuer_org_number),
                (self.env._("Billing account number"), company.efaktura_billing_account),
                (self.env._("Issuer contact e-mail"), company.efaktura_contact_email),
            )
            if not value
        ]
        if missing:
            raise UserError(self.env._("Fill in the issuer agreement first: %(fields)s.", fields=", ".join(missing)))

    @api.model
    def _submit(self, companies):
        """Apply for the issuer agreement: at MPS in production, by an approval e-mail in the sandbox."""
        companies.check_access("write")
        for company in companies:
            self._check_data(company)
            if company.efaktura_issuer_state in ("pending_approval", "active"):
                continue
            if company.efaktura_network_mode == "sandbox":
                self._sandbox_send_approval(company)
            elif company.efaktura_production_route == "maventa":
                self._maventa_order_agreement(company)
                if company.efaktura_issuer_state == "active":
                    continue
            else:
                client = self.env["efaktura.network.factory"]._mps_client(company)
                try:
                    client.create_issuer(
                        mps_client.MpsIssuer(
                            issuer_id=company.efaktura_issuer_org_number,
                            name=company.name,
                            account_number=company.efaktura_billing_account,
                            email=company.efaktura_contact_email or "",
                        )
                    )
                except NetworkError as error:
                    raise UserError(self.env._("MPS refused the issuer agreement: %(error)s", error=error)) from error
            company.efaktura_issuer_state = "pending_approval"
            company.partner_id._message_log(body=self.env._("eFaktura issuer agreement submitted for approval."))
        return True

    @api.model
    def _refresh(self, companies):
        """Ask MPS whether the issuer agreement is approved (production); the sandbox approves by its e-mail."""
        companies.check_access("write")
        for company in companies.filtered(lambda c: c.efaktura_network_mode == "production"):
            if company.efaktura_production_route == "maventa":
                self._maventa_read_agreement(company)
                continue
            client = self.env["efaktura.network.factory"]._mps_client(company)
            try:
                client.get_issuer(company.efaktura_issuer_org_number)
            except NetworkRejected as error:
                if str(error.code) == "5002":
                    continue  # not approved yet
                company.efaktura_issuer_state = "rejected"
                continue
            except NetworkError as error:
                raise UserError(self.env._("MPS could not be reached: %(error)s", error=error)) from error
            company.efaktura_issuer_state = "active"
        return True

    @api.model
    def _deactivate(self, companies):
        companies.check_access("write")
        for company in companies:
            if company.efaktura_network_mode == "production" and company.efaktura_production_route == "maventa":
                # The docs show the older SOAP disable_b2c_issuer_agreement only: the agreement is closed with Visma.
                company.efaktura_maventa_agreement = "none"
            elif company.efaktura_network_mode == "production" and company.efaktura_issuer_state == "active":
                try:
                    self.env["efaktura.network.factory"]._mps_client(company).delete_issuer(
                        company.efaktura_issuer_org_number
                    )
                except NetworkError as error:
                    raise UserError(
                        self.env._("MPS could not deactivate the issuer: %(error)s", error=error)
                    ) from error
            company.efaktura_issuer_state = "inactive"
        return True

    # ------------------------------------------------------------------
    # Visma AutoInvoice (Maventa): the B2C Norway agreement
    # ------------------------------------------------------------------

    @api.model
    def _maventa_apply_agreement(self, company, answer):
        """Store Maventa's answer about the agreement; the issuer agreement is active once it is confirmed."""
        company.ensure_one()
        status = (answer or {}).get("status")
        state = MAVENTA_AGREEMENT_STATES.get(status, "none" if answer is None else "pending")
        company.efaktura_maventa_agreement = state
        if state == "confirmed":
            company.efaktura_issuer_state = "active"
        elif company.efaktura_issuer_state == "active":
            company.efaktura_issuer_state = "pending_approval" if answer else "inactive"
        return state

    @api.model
    def _maventa_order_agreement(self, company):
        """Order the B2C Norway ("main vendor") agreement. Maventa asks MPS whether another provider holds one:
        without, it is active at once (picked up within about an hour); with, the signatory signs a transfer."""
        company.ensure_one()
        client = self.env["efaktura.network.factory"]._maventa_client(company)
        try:
            answer = client.order_agreement(company.name, company.efaktura_contact_email or "")
        except NetworkError as error:
            raise UserError(self.env._("Maventa refused the B2C Norway agreement: %(error)s", error=error)) from error
        state = self._maventa_apply_agreement(company, answer)
        if state == "signature_needed":
            company.partner_id._message_log(
                body=self.env._(
                    "Another provider holds your eFaktura agreement at MPS: the person with signatory rights gets a "
                    "transfer to sign in Visma Sign. Close the old agreement afterwards."
                )
            )
        return state

    @api.model
    def _maventa_read_agreement(self, company):
        company.ensure_one()
        try:
            answer = self.env["efaktura.network.factory"]._maventa_client(company).get_agreement()
        except NetworkError as error:
            raise UserError(self.env._("Maventa could not be reached: %(error)s", error=error)) from error
        return self._maventa_apply_agreement(company, answer)

    # ------------------------------------------------------------------
    # Connection test of the production route
    # ------------------------------------------------------------------

    @api.model
    def _test_connection(self, company):
        """Reach the production route's network with the configured keys, and say what answered."""
        company.ensure_one()
        company.check_access("write")
        factory = self.env["efaktura.network.factory"]
        route = company.efaktura_production_route
        try:
            if route == "maventa":
                client = factory._maventa_client(company)
                client.access_token()
                self._maventa_apply_agreement(company, client.get_agreement())
                message = self.env._(
                    "Visma AutoInvoice answered. B2C Norway agreement: %(state)s.",
                    state=dict(company._fields["efaktura_maventa_agreement"]._description_selection(self.env))[
                        company.efaktura_maventa_agreement
                    ],
                )
            elif route == "mps":
                factory._mps_client(company).get_issuer(company.efaktura_issuer_org_number)
                message = self.env._("MPS answered: the issuer is known (contract unverified).")
            else:
                config = factory._vipps_config(company)
                if not config:
                    raise UserError(self.env._("Fill in the Vipps keys in the eFaktura settings first."))
                vipps_client.VippsClient(config).access_token()
                message = self.env._("Vipps answered with an access token.")
        except NetworkRejected as error:
            if route == "mps" and str(error.code) == "5002":
                message = self.env._("MPS answered: the issuer is not approved yet (contract unverified).")
            else:
                raise UserError(self.env._("The connection test failed: %(error)s", error=error)) from error
        except NetworkError as error:
            raise UserError(self.env._("The connection test failed: %(error)s", error=error)) from error
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": self.env._("Test connection"), "message": message, "type": "success", "sticky": False},
        }

    # ------------------------------------------------------------------
    # Sandbox approval (Test mode)
    # ------------------------------------------------------------------

    @api.model
    def _sandbox_token(self, company):
        company.ensure_one()
        return hmac_sign(self.env(su=True), "l10n_no_efaktura_b2c.sandbox_issuer_approval", str(company.id))

    @api.model
    def _sandbox_send_approval(self, company):
        """The sandbox stands in for the network operator: it e-mails a link that approves the agreement."""
        company.ensure_one()
        url = f"{company.get_base_url()}/efaktura/sandbox/issuer/{company.id}/{self._sandbox_token(company)}"
        self.env.ref("l10n_no_efaktura_b2c.mail_template_sandbox_issuer_approval").with_context(
            efaktura_approval_url=url, **company._efaktura_test_outbox()
        ).send_mail(company.id, email_layout_xmlid="mail.mail_notification_light")

    @api.model
    def _sandbox_approve(self, company, token):
        company.ensure_one()
        if company.efaktura_mode != "test" or not consteq(token or "", self._sandbox_token(company)):
            return False
        if company.efaktura_issuer_state == "pending_approval":
            company.efaktura_issuer_state = "active"
            company.partner_id._message_log(body=self.env._("eFaktura issuer agreement approved (sandbox)."))
        return company.efaktura_issuer_state == "active"
