"""Beyond strings: a rectangular membrane, linear or tension-modulated (Berger), in modal form.

configs/           the configuration of each table (default: linear; nonlinear)
physics.py         the membrane: modes, Gaussian plucks, the simulator (the string's integrator)
input_pipeline.py  simulated 2D plucks in, frames (N, T, W = Nx·Ny, C) out
figures.py         true against predicted frames, the fundamental, the eigenvalues
__main__.py        flags -> configuration -> examples.string.train.train_and_evaluate -> table
"""
