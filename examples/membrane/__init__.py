"""Beyond strings: a rectangular membrane, linear or tension-modulated (Berger), in modal form.

  physics.py  the membrane: modes, Gaussian plucks, the simulator (the string's Lawson integrator)

The learning side (the string example's models and training loop, imported, not copied) is not
here yet: see the README's membrane section.
"""
