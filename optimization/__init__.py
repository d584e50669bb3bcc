"""Supply planning: the planning network from frames, the PuLP model (HiGHS, CBC fallback), solve,
plan tables, duals and shortage reasons. Pure functions on polars frames."""

from optimization.config import PlanConfig, PlanInputError
from optimization.network import Network, build_network
from optimization.plan import PlanResult, plan_supply
from optimization.safety_stock import safety_stock_targets

__all__ = ["PlanConfig", "PlanInputError", "Network", "build_network", "PlanResult", "plan_supply",
           "safety_stock_targets"]
