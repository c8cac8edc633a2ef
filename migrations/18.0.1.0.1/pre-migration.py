"""eFaktura B2C gets one mode per company: Disabled, Test or Enabled (production).

Before this version a company had ``efaktura_enabled`` and ``efaktura_network_mode``, and production meant MPS
direct (with Vipps beside it); the production route, whose default is now Visma AutoInvoice, keeps MPS direct for
those companies. Both now follow
``efaktura_mode``; the mode is filled in here, before the registry loads, so that the ORM neither
sets the default (Disabled) on companies that were using the module nor recomputes the old columns
from it.
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_name = 'res_company' AND column_name = 'efaktura_mode'"
    )
    if not cr.fetchone():
        _fill_mode(cr)
    cr.execute(
        "SELECT 1 FROM information_schema.columns "
        "WHERE table_name = 'res_company' AND column_name = 'efaktura_production_route'"
    )
    if not cr.fetchone():
        cr.execute("ALTER TABLE res_company ADD COLUMN efaktura_production_route varchar")
        cr.execute("UPDATE res_company SET efaktura_production_route = 'mps'")


def _fill_mode(cr):
    cr.execute("ALTER TABLE res_company ADD COLUMN efaktura_mode varchar")
    cr.execute(
        """UPDATE res_company
              SET efaktura_mode = CASE
                      WHEN NOT COALESCE(efaktura_enabled, FALSE) THEN 'disabled'
                      WHEN efaktura_network_mode = 'production' THEN 'enabled'
                      ELSE 'test'
                  END"""
    )
