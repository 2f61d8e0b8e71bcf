"""Graded exercises: each ``check_*`` runs the learner's function against the package's
reference implementation and prints PASS, NOT DONE YET (the stub is unfilled) or NOT YET
and what is wrong ("wrong sign", "looks transposed", "baseline missing", ...). It returns
True/False. A learner notebook grades with ``gae = graded(check_gae, gae)``: the learner's
function if it passes, else the package's implementation with a visible note, so the
notebook runs on. The solutions notebooks (``notebooks/solutions/``) ``assert`` instead.
:func:`quiz` shows the self-check quizzes (multiple choice, feedback per answer).

| notebook | checker | the learner writes |
|---|---|---|
| 01 | :func:`check_inverse_policy`, :func:`check_nominal_converges` | the inverse-response action; when the nominal model converges (derived) |
| 02 | :func:`check_length_ratio` | PPO's steps relative to the benchmark, where defined |
| 03 | :func:`check_gaussian_score`, :func:`check_reinforce_loss`, :func:`check_gae` | d log pi (derived, checked against autograd); the REINFORCE loss; GAE |
| 04 | :func:`check_conjugate_gradient`, :func:`check_kl_scaled_step` | CG; the TRPO step length |
| 05 | :func:`check_adapt_and_score` | adapt the meta-policy to a task, score its mean action |
| 06 | :func:`check_method`, :func:`score_method` | a method of your own in the comparison |
| 07 | :func:`check_safe_setpoint` | the safety check before every setpoint on a machine |
| 08 | :func:`check_capstone` | a controller for an unseen machine, with a floor (:mod:`.capstone`) |
| 09 | :func:`check_rl2_features` | the recurrent (RL²) policy's inputs from a rollout |
"""

from awake_tutorial.exercises._feedback import graded
from awake_tutorial.exercises.black_box import check_rl2_features
from awake_tutorial.exercises.capstone import check_capstone
from awake_tutorial.exercises.machine import check_safe_setpoint
from awake_tutorial.exercises.quiz import quiz
from awake_tutorial.exercises.reasoning import check_gaussian_score, check_nominal_converges
from awake_tutorial.exercises.meta import check_adapt_and_score
from awake_tutorial.exercises.policy_gradient import check_gae, check_reinforce_loss
from awake_tutorial.exercises.steering import check_inverse_policy, check_length_ratio, check_method, score_method
from awake_tutorial.exercises.trpo import check_conjugate_gradient, check_kl_scaled_step

__all__ = ["graded", "quiz", "check_nominal_converges", "check_gaussian_score",
           "check_inverse_policy", "check_length_ratio", "check_reinforce_loss", "check_gae",
           "check_conjugate_gradient", "check_kl_scaled_step", "check_adapt_and_score", "check_method",
           "score_method", "check_safe_setpoint", "check_capstone",
           "check_rl2_features"]
