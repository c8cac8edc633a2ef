# The sandbox: what Test mode uses instead of the real networks and BankID, gathered in one part so that a reader
# sees at a glance what only simulates. network.py (the sandbox eFaktura/Vipps network, with mailbox.py) and
# bankid.py (an OpenID provider playing BankID, with its parts in bankid_protocol, bankid_persons, bankid_store
# and bankid_clients) are plain Python; models/ keeps their side (registry, mailboxes, submissions, the simulator's
# store), controllers/ serves the simulator's pages, views/ and data/ their screens and crons.
from . import controllers
from . import models
