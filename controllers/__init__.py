from . import main
from . import bankid_simulator
from . import maventa
