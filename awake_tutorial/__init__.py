"""awake_tutorial: meta-reinforcement learning on the AWAKE electron line at CERN."""

__version__ = "0.1.0"
