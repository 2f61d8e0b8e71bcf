"""Classical controllers, the benchmarks a learned policy must beat.

* given the task's response matrix R (:mod:`.given_response`): :class:`InverseResponsePolicy`
  (what an operator does) and :class:`FewestStepsPolicy` (the fewest steps possible);
* without it (:mod:`.measured`): :class:`NominalModelPolicy` (trust the optics model) and
  :class:`MeasureThenCorrectPolicy` (measure R on the machine, then correct).

They act on numpy observations and are scored by :func:`awake_tutorial.envs.evaluate`.
"""

from awake_tutorial.controllers.given_response import FewestStepsPolicy, InverseResponsePolicy
from awake_tutorial.controllers.measured import MeasureThenCorrectPolicy, NominalModelPolicy, measure_response

__all__ = ["FewestStepsPolicy", "InverseResponsePolicy", "MeasureThenCorrectPolicy", "NominalModelPolicy",
           "measure_response"]
