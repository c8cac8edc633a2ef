from . import controllers
from . import models
from . import sandbox
from . import wizard


def _post_init_hook(env):
    env["res.company"].search([])._efaktura_ensure_channels()
