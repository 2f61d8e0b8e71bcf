"""Reinforcement learning, independent of AWAKE: the Gaussian MLP policy (:mod:`.policies`),
episodes and advantages (:mod:`.episodes`, :mod:`.baseline`), samplers that get their envs
from a factory (:mod:`.samplers`, :mod:`.env_sampler`), the meta-learners
(:mod:`.metalearners`), and the labelled fast path (:mod:`.fast`)."""
