"""Runs: the training and adaptation loops (:mod:`.training`), run folders and policy files
(:mod:`.folders`, :mod:`.policy_files`), the shipped policies (:mod:`.pretrained`), PPO
(:mod:`.ppo`) and the comparisons (:mod:`.compare`, :mod:`.noise_study`). Never draws."""
