"""Graded exercises: each ``check_*`` runs the learner's function against the package's
reference implementation and prints PASS, or what is wrong ("wrong sign", "looks
transposed", "baseline missing", ...). It returns True/False, so a notebook cell reads
``assert check_gae(gae)``.

| notebook | checker | the learner writes |
|---|---|---|
| 01 | :func:`check_inverse_policy` | the inverse-response action from R and the readings |
| 02 | :func:`check_length_ratio` | PPO's steps relative to the benchmark, where defined |
| 03 | :func:`check_reinforce_loss`, :func:`check_gae` | the REINFORCE loss; GAE |
| 04 | :func:`check_conjugate_gradient`, :func:`check_kl_scaled_step` | CG; the TRPO step length |
| 05 | :func:`check_adapt_and_score` | adapt the meta-policy to a task, score its mean action |
| 06 | :func:`check_method`, :func:`score_method` | a method of your own in the comparison |
| 07 | :func:`check_safe_setpoint` | the safety check before every setpoint on a machine |
| 09 | :func:`check_rl2_features` | the recurrent (RL²) policy's inputs from a rollout |
"""

from awake_tutorial.exercises.black_box import check_rl2_features
from awake_tutorial.exercises.machine import check_safe_setpoint
from awake_tutorial.exercises.meta import check_adapt_and_score
from awake_tutorial.exercises.policy_gradient import check_gae, check_reinforce_loss
from awake_tutorial.exercises.steering import check_inverse_policy, check_length_ratio, check_method, score_method
from awake_tutorial.exercises.trpo import check_conjugate_gradient, check_kl_scaled_step

__all__ = ["check_inverse_policy", "check_length_ratio", "check_reinforce_loss", "check_gae",
           "check_conjugate_gradient", "check_kl_scaled_step", "check_adapt_and_score", "check_method",
           "score_method", "check_safe_setpoint", "check_rl2_features"]
