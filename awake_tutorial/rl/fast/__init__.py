"""The fast path: the textbook maths of :mod:`awake_tutorial.rl`, rewritten for speed.

Read the textbook modules first (:mod:`~awake_tutorial.rl.policies`,
:mod:`~awake_tutorial.rl.metalearners.reinforce`, :mod:`~awake_tutorial.rl.metalearners.maml_trpo`,
:mod:`~awake_tutorial.rl.samplers`): they compute gradients with autograd, the Fisher-vector
product by double backward, and act with the policy's torch forward pass. The modules here
give the same numbers (to float rounding, tested in ``tests/test_fast_path.py``) with less
overhead, which matters for networks this small:

* :mod:`.gradients`: the mean network's Jacobian products by the chain rule, the REINFORCE
  gradient by hand, and the analytic Gaussian Fisher-vector products of TRPO;
* :mod:`.rollout`: the policy's action sampler in numpy (rollouts make hundreds of calls
  on tiny arrays: ~1 us per numpy operation against ~5-10 us for torch).

The config key ``fast_path`` (default true) selects them, in one place: the seam
:mod:`awake_tutorial.rl.engine`, the only module that imports this package. ``fast_path: false``
runs the textbook path everywhere (same results to float rounding; meta-training about 6x
slower, ``python benchmarks/meta_training.py --textbook``). These modules take tensors and
settings, never a learner, and import only :mod:`~awake_tutorial.rl.policies` and
:mod:`~awake_tutorial.rl.episodes` (no import cycle with the learners).
"""
