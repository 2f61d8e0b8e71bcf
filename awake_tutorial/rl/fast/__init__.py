"""The fast path: the textbook maths of :mod:`awake_tutorial.rl`, rewritten for speed.

Read the textbook modules first (:mod:`~awake_tutorial.rl.policies`,
:mod:`~awake_tutorial.rl.metalearners.reinforce`, :mod:`~awake_tutorial.rl.metalearners.maml_trpo`,
:mod:`~awake_tutorial.rl.samplers`): they compute gradients with autograd, the Fisher-vector
product by double backward, and act with the policy's torch forward pass. The modules here
give the same numbers (to float rounding, tested in ``tests/test_fast_path.py``) with less
overhead, which matters for networks this small:

* :mod:`.activations`: tanh as 2 sigmoid(2x) - 1 (the same function, about 2x faster on CPU);
* :mod:`.gradients`: the mean network's Jacobian products by the chain rule, the REINFORCE
  gradient by hand, and the analytic Gaussian Fisher-vector products of TRPO;
* :mod:`.rollout`: the policy's action sampler in numpy (rollouts make hundreds of calls
  on tiny arrays: ~1 us per numpy operation against ~5-10 us for torch).

The config key ``fast_path`` (default true) selects them; ``fast_path: false`` runs the
textbook path everywhere (same results to float rounding; meta-training about 6x slower,
``python benchmarks/meta_training.py --textbook``).
This package imports nothing at package level, so the policy module can use its activation.
"""
