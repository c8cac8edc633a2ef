from . import efaktura_sandbox_consumer
from . import efaktura_sandbox_document
from . import efaktura_sandbox_submission
from . import efaktura_bankid_simulator
