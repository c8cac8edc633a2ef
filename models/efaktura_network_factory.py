import base64
import functools
import hashlib
import os
import tempfile

from odoo import api, models
from odoo.exceptions import UserError, ValidationError

from ..networks import maventa, maventa_contract, mps, mps_client, vipps, vipps_client
from ..networks.base import Issuer, NetworkRejected
from ..networks.production import ProductionNetwork


class EfakturaNetworkFactory(models.AbstractModel):
    """Builds the network that carries a company's invoices, from the company's settings: the sandbox in Test
    mode, else the production route (Maventa, or MPS and Vipps, or Vipps alone), with each network's
    configuration and client. Every method takes the company; ``res.company._efaktura_network`` is the entry."""

    _name = "efaktura.network.factory"
    _description = "eFaktura B2C network factory"

    @api.model
    def _network(self, company):
        """The network that carries this company's invoices: the sandbox in Test mode, else production."""
        company.ensure_one()
        if company.efaktura_mode == "disabled":
            raise UserError(self.env._("%(company)s: eFaktura B2C is disabled.", company=company.name))
        if company.efaktura_mode == "test":
            return self.env["efaktura.sandbox.document"]._sandbox_network(company)
        return self._production_network(company)

    @api.model
    def _issuer(self, company):
        """The issuer, as the networks see it."""
        company.ensure_one()
        return Issuer(
            org_number=company.efaktura_issuer_org_number or "",
            name=company.name,
            account_number=company.efaktura_billing_account or "",
            contact_email=company.efaktura_contact_email or "",
        )

    @api.model
    def _production_network(self, company):
        """The production route's network: Maventa, or MPS (and Vipps), or Vipps alone, behind one network."""
        company.ensure_one()
        issuer = self._issuer(company)
        if company.efaktura_production_route == "maventa":
            config = self._maventa_config(company)
            if not config:
                raise UserError(
                    self.env._(
                        "%(company)s: Visma AutoInvoice (Maventa) is not configured. Fill in the Maventa keys in the "
                        "eFaktura settings, or choose another production route.",
                        company=company.name,
                    )
                )
            return ProductionNetwork(
                issuer,
                mps=maventa.MaventaNetwork(issuer, config, render=functools.partial(self._maventa_render, company)),
            )
        mps_config = self._mps_config(company) if company.efaktura_production_route == "mps" else None
        vipps_config = self._vipps_config(company)
        if not mps_config and not vipps_config:
            raise UserError(
                self.env._(
                    "%(company)s: the production networks are not configured. Fill in the MPS certificate or the "
                    "Vipps keys in the eFaktura settings, or switch the eFaktura network back to Sandbox.",
                    company=company.name,
                )
            )
        return ProductionNetwork(
            issuer,
            mps=mps.MpsNetwork(issuer, mps_config) if mps_config else None,
            vipps=vipps.VippsNetwork(issuer, vipps_config) if vipps_config else None,
        )

    # ------------------------------------------------------------------
    # MPS
    # ------------------------------------------------------------------

    @api.model
    def _mps_config(self, company):
        company = company.sudo()
        if not (company.efaktura_mps_endpoint and company.efaktura_mps_client_cert):
            return None
        return mps_client.MpsConfig(
            endpoint=company.efaktura_mps_endpoint,
            issuer_org_number=company.efaktura_issuer_org_number or "",
            client_cert=company.efaktura_mps_client_cert,
            client_key=company.efaktura_mps_client_key or "",
            wsdl_path=self._mps_wsdl_path(company),
            submitter_endpoint=company.efaktura_mps_cancel_endpoint or "",
            soap_actions=self._mps_soap_actions(company),
        )

    @api.model
    def _mps_wsdl_path(self, company):
        """The WSDL zeep reads: the one MPS handed the issuer when uploaded, else the module's stand-in."""
        company = company.sudo()
        if not company.efaktura_mps_wsdl:
            return mps_client.WSDL_PATH
        content = base64.b64decode(company.efaktura_mps_wsdl)
        digest = hashlib.sha256(content).hexdigest()
        path = os.path.join(tempfile.gettempdir(), f"efaktura-mps-{self.env.cr.dbname}-{digest[:16]}.wsdl")
        if not os.path.exists(path):
            with tempfile.NamedTemporaryFile("wb", dir=os.path.dirname(path), delete=False) as handle:
                handle.write(content)
            os.replace(handle.name, path)
        return path

    @api.model
    def _mps_soap_actions(self, company):
        """The SOAP action overrides, as ((operation, action), ...); a malformed line raises."""
        actions = []
        for number, line in enumerate((company.sudo().efaktura_mps_soap_actions or "").splitlines(), start=1):
            if not line.strip():
                continue
            operation, sep, action = line.partition("=")
            if not sep or not operation.strip() or not action.strip():
                raise ValidationError(
                    self.env._(
                        "MPS SOAP actions, line %(line)s: %(value)s is not operation=SOAPAction.",
                        line=number,
                        value=line.strip(),
                    )
                )
            actions.append((operation.strip(), action.strip()))
        return tuple(actions)

    @api.model
    def _mps_client(self, company):
        config = self._mps_config(company)
        if not config:
            raise UserError(
                self.env._("Fill in the MPS endpoint and client certificate in the eFaktura settings first.")
            )
        return mps_client.MpsClient(config)

    # ------------------------------------------------------------------
    # Visma AutoInvoice (Maventa)
    # ------------------------------------------------------------------

    @api.model
    def _maventa_base_url(self, company):
        company.ensure_one()
        if company.efaktura_maventa_environment == "staging":
            return maventa_contract.STAGING_BASE_URL
        if company.efaktura_maventa_environment == "custom" and company.efaktura_maventa_url:
            return company.efaktura_maventa_url
        return maventa_contract.PRODUCTION_BASE_URL

    @api.model
    def _maventa_config(self, company):
        company = company.sudo()
        if not (
            company.efaktura_maventa_company_uuid
            and company.efaktura_maventa_user_api_key
            and company.efaktura_maventa_vendor_api_key
        ):
            return None
        return maventa.MaventaConfig(
            company_uuid=company.efaktura_maventa_company_uuid,
            user_api_key=company.efaktura_maventa_user_api_key,
            vendor_api_key=company.efaktura_maventa_vendor_api_key,
            base_url=self._maventa_base_url(company),
            route_everything=company.efaktura_maventa_route_everything,
        )

    @api.model
    def _maventa_client(self, company):
        config = self._maventa_config(company)
        if not config:
            raise UserError(
                self.env._(
                    "Fill in the Maventa company UUID, user API key and vendor API key in the eFaktura settings first."
                )
            )
        return maventa.MaventaClient(config)

    @api.model
    def _maventa_render(self, company, document, embed_pdf=True):
        """The Peppol BIS 3.0 / EHF file of a document, made by Odoo's own generator, with the PDF embedded
        (the sandbox, playing Maventa, leaves the PDF out: ``embed_pdf=False``)."""
        company.ensure_one()
        number = document.original_invoice_number if document.kind == "reminder" else document.invoice_number
        move = (
            self.env["account.move"]
            .sudo()
            .search(
                [
                    ("company_id", "=", company.id),
                    ("name", "=", number),
                    ("move_type", "in", ("out_invoice", "out_refund")),
                ],
                limit=1,
            )
        )
        if not move:
            raise NetworkRejected(f"No invoice {number} in {company.name}", code="UNKNOWN_INVOICE")
        return move._efaktura_ubl_file(embed_pdf=embed_pdf)

    # ------------------------------------------------------------------
    # Vipps Invoice API
    # ------------------------------------------------------------------

    @api.model
    def _vipps_config(self, company):
        company = company.sudo()
        if not (
            company.efaktura_uses_vipps_api
            and company.efaktura_vipps_client_id
            and company.efaktura_vipps_client_secret
            and company.efaktura_vipps_subscription_key
        ):
            return None
        return vipps_client.VippsConfig(
            client_id=company.efaktura_vipps_client_id,
            client_secret=company.efaktura_vipps_client_secret,
            subscription_key=company.efaktura_vipps_subscription_key,
            issuer_org_number=company.efaktura_issuer_org_number or "",
            base_url=company.efaktura_vipps_base_url or vipps_client.PRODUCTION_BASE_URL,
            token_url=company.efaktura_vipps_token_url or vipps_client.PRODUCTION_TOKEN_URL,
        )
