"""User interface: the command line (:mod:`.cli`, one module per subcommand), live dashboards
(:mod:`.dashboard`), figures (:mod:`.plotting`, :mod:`.plotting_compare`) and the headless
notebook runner. Draws what it is given; computes no physics."""
