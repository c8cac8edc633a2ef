from . import efaktura_resend_wizard
