"""The rules of ``validation.py`` in the user's language."""


def rule_text(env, error):
    """What ``error`` (a ``validation.InvalidValue``) expected, translated; its English text otherwise."""
    texts = {
        "no_mobile": env._("+47 followed by 8 digits, a Norwegian mobile number starting with 4 or 9"),
        "org_number": env._("9 digits with a valid MOD11 check digit"),
        "account_number": env._("11 digits with a valid MOD11 check digit"),
    }
    return texts.get(getattr(error, "code", None), error.rule)
