"""The membrane example's configurations, one per table: `default` (the linear membrane) and
`nonlinear` (the Berger membrane). Each module's get_config()."""

from examples.membrane.configs import default, nonlinear

CONFIGS = {"default": default.get_config, "nonlinear": nonlinear.get_config}
