"""Beyond strings: a rectangular membrane, linear or tension-modulated (Berger), in modal form.

physics.py         the membrane: modes, Gaussian plucks, the simulator (the string's integrator)
input_pipeline.py  simulated 2D plucks in, frames (N, T, W = Nx·Ny, C) out
__main__.py        DMD, Koopman and Koopman_var with the string example's models, recipes and
                   training loop, imported from examples.string, not copied
"""
