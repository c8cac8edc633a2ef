from . import main
from . import maventa
