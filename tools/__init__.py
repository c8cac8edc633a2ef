# Plain-Python helpers of the module: the BankID OpenID Connect relying party (oidc), KID numbers (kid), and the
# checks of Norwegian mobile, organisation and account numbers (validation, with its messages in the user's
# language in validation_messages). Only validation_messages takes an Odoo environment.
