"""Learning a vibrating string, split by role as the flax examples are:

  configs/           the configuration of each table: a frozen dataclass, a field per setting
  physics.py         the string: modes and simulators (float64 NumPy, no learning)
  input_pipeline.py  the paper's pluck draw, simulated plucks or trajectory files in, a Dataset out;
                     the training batches of windows, split over the devices
  models.py          DMD, Koopman, Koopman_var and the GRU baseline, the model table, DMD starts
  ssm.py             the paper's state-space models: a deep LRU and S5
  train.py           the one training loop (`train`) and `train_and_evaluate`, shared by the examples
  metrics.py         every score, written once: relative errors, their spreads, frequency errors
  results.py         results files (configuration, command, commit, machine) and the printed table
  cli.py             the command-line shell of the examples: a bad setting is one line and exit 2
  readme.py          renders README.md's and docs/experiments.md's tables from the results files
  figures.py         the figure
  audio.py           what a pickup hears, WAVs and a page, and how fast the models synthesise
  checkpoints.py     trained models kept on disk (orbax) with their configuration
  __main__.py        flags -> configuration -> train_and_evaluate -> table: `python -m examples.string`

Other examples import the training loop and the models from here; they do not copy them.
"""
