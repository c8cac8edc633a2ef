from . import controllers
from . import models


def _post_init_hook(env):
    env["res.company"].search([])._efaktura_ensure_channels()
