"""Classical controllers, the benchmarks a learned policy must beat.

* given the task's response matrix R (:mod:`.given_response`): :class:`InverseResponsePolicy`
  (what an operator does) and :class:`FewestStepsPolicy` (the fewest steps possible);
* without it, at no machine-step cost (:mod:`.secant`, :mod:`.measured`):
  :class:`NominalInversePolicy` (the inverse of the nominal matrix), :class:`BroydenPolicy`
  (the same, with a secant update of its matrix after every step) and
  :class:`NominalModelPolicy` (the fewest-steps planner on the nominal matrix);
* measuring R first (:mod:`.measured`): :class:`MeasureThenCorrectPolicy`.

They act on numpy observations and are scored by :func:`awake_tutorial.envs.evaluate`; the
comparison finds them in its registry, :mod:`awake_tutorial.runs.methods`.
"""

from awake_tutorial.controllers.given_response import FewestStepsPolicy, InverseResponsePolicy
from awake_tutorial.controllers.measured import MeasureThenCorrectPolicy, NominalModelPolicy, measure_response
from awake_tutorial.controllers.secant import BroydenPolicy, NominalInversePolicy

__all__ = ["BroydenPolicy", "FewestStepsPolicy", "InverseResponsePolicy", "MeasureThenCorrectPolicy",
           "NominalInversePolicy", "NominalModelPolicy", "measure_response"]
