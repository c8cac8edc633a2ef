# Plain-Python helpers of the module: the BankID OpenID Connect relying party (oidc, with its parts oidc_errors,
# oidc_provider and oidc_tokens, and name_match for comparing names), KID numbers (kid), and the checks of Norwegian
# mobile, organisation and account numbers (validation, with its messages in the user's language in
# validation_messages). Only validation_messages takes an Odoo environment.
