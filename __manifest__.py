{
    "name": "Norway - eFaktura B2C",
    "summary": "Invoice Norwegian consumers by Vipps, eFaktura in the nettbank, e-mail or post, "
    "with BankID consent",
    "version": "18.0.1.0.0",
    "category": "Accounting/Localizations/EDI",
    "countries": ["no"],
    "author": "l10n_no_efaktura_b2c contributors",
    "license": "LGPL-3",
    "depends": [
        "account",
        "l10n_no",
        "sms",
        "snailmail_account",
        "portal",
    ],
    "external_dependencies": {
        "python": ["phonenumbers", "jwt", "zeep", "lxml", "requests"],
    },
    "data": [
        "security/efaktura_security.xml",
        "data/ir_default_data.xml",
        "security/ir.model.access.csv",
        "views/efaktura_menus.xml",
        "views/efaktura_channel_views.xml",
        "views/res_partner_views.xml",
        "views/res_config_settings_views.xml",
    ],
    "demo": [
        "demo/efaktura_demo.xml",
    ],
    "post_init_hook": "_post_init_hook",
    "installable": True,
    "application": False,
}
