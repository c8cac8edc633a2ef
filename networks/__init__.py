"""Wire clients for the delivery networks, in plain Python. See base.py for the interface."""
