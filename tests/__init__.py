from . import test_validation
from . import test_partner
from . import test_company_settings
from . import test_security
from . import test_demo
from . import test_oidc
from . import test_mps
