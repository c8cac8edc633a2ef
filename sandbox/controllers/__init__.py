from . import bankid_simulator
