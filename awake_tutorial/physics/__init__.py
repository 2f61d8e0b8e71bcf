"""Physics: the TT43 lattice as an object (:mod:`.lattice_model`), its linear optics with
Cheetah (:mod:`.optics`), and the tasks, response matrices of perturbed optics (:mod:`.tasks`).
Imports nothing of the layers above."""
