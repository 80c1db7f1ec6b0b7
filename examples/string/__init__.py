"""Learning a vibrating string, split by role as the flax examples are:

  physics.py         the string: modes, plucks and simulators (float64 NumPy, no learning)
  input_pipeline.py  simulated plucks or trajectory files in, plain arrays (N, T, W, C) out
  models.py          DMD, Koopman, Koopman_var and the GRU baseline, and their initialisation
  train.py           the one training loop (`train`, a `Recipe`) and the evaluation
  figures.py         the figure
  __main__.py        flags and wiring: `python -m examples.string`

Other examples import the training loop and the models from here; they do not copy them.
"""
