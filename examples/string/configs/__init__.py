"""The string example's configurations, one per table: `default` (the paper's linear string),
`nonlinear` (the paper's nonlinear string), `scratch` and `scratch_nonlinear` (the paper's strings
from the seed's random initialisation, as the paper trains), `steel` (a milder steel string, u and
v) and `random` (the linear steel string from the seed's random initialisation). Each module's
get_config(); scratch.py holds both of its table's."""

from examples.string.configs import default, nonlinear, random, scratch, steel

CONFIGS = {
    "default": default.get_config,
    "nonlinear": nonlinear.get_config,
    "scratch": scratch.get_config,
    "scratch_nonlinear": scratch.nonlinear,
    "steel": steel.get_config,
    "random": random.get_config,
}
