"""Planning configuration and the error raised for inputs the planning model cannot take.

:class:`PlanConfig` is a frozen pydantic model: it is both a flow parameter and the shape of the
``plan`` section of a config file, so unknown keys are an error.
"""

from __future__ import annotations

from typing import Literal

import pydantic
from pydantic import Field

__all__ = ["PlanConfig", "PlanInputError"]


class PlanInputError(ValueError):
    """Inputs that would make the planning model wrong, infeasible or unbounded.

    Raised before the solve; the message names the entity, column, rule and offending keys.
    """


class PlanConfig(pydantic.BaseModel, frozen=True, extra="forbid"):
    """Parameters of one planning solve."""

    horizon_weeks: int = Field(26, ge=1, le=260, description="Weekly buckets planned, from the start week.")
    solver: Literal["highs", "cbc"] = Field(
        "highs", description="Solver tried first; the other one is the fallback if it fails."
    )
    time_limit_seconds: float = Field(
        1800.0, gt=0, description="Wall-time limit handed to the solver (the 10,000-series demo network's LP "
        "solves in about 6 minutes on 2 cores; the demo's in about a second).",
    )
    mip: bool = Field(
        False,
        description="Solve lot sizing (whole batches, minimum batch) as a MIP; False solves the LP "
        "relaxation, where batches are continuous and minimum batches are ignored.",
    )
    mip_gap: float = Field(0.01, ge=0, le=1, description="Relative MIP gap at which the solver stops.")
    frozen_weeks: int = Field(
        0,
        ge=0,
        description="First weeks whose production starts are fixed to the scheduled production "
        "(zero where none is scheduled).",
    )
    max_backlog_weeks: int | None = Field(
        None,
        ge=0,
        description="Weeks unmet demand may wait before it is lost; None = backlog never lapses.",
    )
    min_shelf_life_share_at_dc: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of its shelf life a unit must still have when it arrives at a DC.",
    )
    safety_stock_penalty_share: float = Field(
        0.2,
        ge=0,
        description="Penalty per unit-week of safety-stock shortfall, as a share of the product's "
        "priority-weighted backlog penalty.",
    )
    priority_weight_exponent: float = Field(
        1.0,
        ge=0,
        description="Backlog penalties are weighted by priority ** -exponent (priority 1 weighs most).",
    )
    lost_sale_penalty_weeks: float = Field(
        1.0,
        ge=0,
        description="A lost unit costs the weighted backlog penalty times (max_backlog_weeks + this).",
    )
    terminal_condition: bool = Field(
        True,
        description="Value what the network holds at the end (stock + pipeline against the demand beyond "
        "the horizon that new production cannot reach, plus safety stock), so the plan does not run the "
        "network down in its last weeks; needs demand beyond the horizon (the forecast runs that far).",
    )
    terminal_penalty_weeks: float = Field(
        0.9,
        ge=0,
        description="A unit of end-of-horizon stock short of the terminal target costs the weighted "
        "backlog penalty times this; below 1, so demand inside the horizon (a week of backlog at least) "
        "comes before stock for the next plan.",
    )
    campaign_time_limit_seconds: float = Field(
        60.0,
        gt=0,
        description="Wall-time limit of the whole campaign solve when resources run campaigns: LP "
        "relaxation, MIP start and MIP share it (the relaxation is weak, so the gap closes slowly: the plan "
        "is the best found by then, its gap reported); the smaller of this and time_limit_seconds applies. "
        "A relaxation or start that alone takes longer is let finish (within time_limit_seconds), so there "
        "is a plan.",
    )
    campaign_start_cuts: bool = Field(
        False,
        description="Add the valid inequality campaign_start[p,r,t] (a set-up week lies in a campaign that "
        "started within max_campaign_weeks): it lifts the relaxation where switches are what the mixing LP "
        "saves (hand test: 200 → 250 of an optimum 350), but on the demo it lifted the bound by 0.016% for "
        "26% more simplex iterations, so it is off by default.",
    )
    campaign_fit_cuts: bool = Field(
        False,
        description="Build the model with the valid inequality campaign_fit[p,r,t] "
        "(optimization.campaign_links.campaign_fit): a campaign routing starts at most the whole batches its "
        "week's hours hold, and after a switch only those that fit beside the changeover. From the start it "
        "lifts the relaxation (demo +27.6%, s5 +13.3%, s7 +2.0%), but the start and search are then made "
        "from that relaxation and found plans 6-9% dearer on all four networks at 60 s, so it is off; "
        "campaign_fit_bound adds the same rows after the start.",
    )
    campaign_fit_bound: bool = Field(
        True,
        description="After the campaign start, add the campaign_fit rows to the model (so the MIP has them) and "
        "re-solve the relaxation from its basis: a higher lower bound, on which the Lagrangian bound builds; "
        "the start and the search keep the plain relaxation, so the plan is the same. At 60 s: demo gap "
        "54.98% -> 46.52%, s5 80.99% -> 77.89%, same plans (docs/campaign-solver.md, Stop 25).",
    )
    campaign_fill_rows: bool = Field(
        False,
        description="Wherever the campaign_fit rows go (campaign_fit_bound, campaign_fit_cuts), add the valid "
        "inequality campaign_fill[p,r,t] too (optimization.campaign_links.campaign_fill): a week set up for "
        "a product starts at most the whole batches its hours hold. The relaxation with the fit rows: demo "
        "+2.06%, piece +1.29%, s5 +4.14%, but s7 and single +0.00% for 0.4-0.7 CPU-s more re-solve inside "
        "the fit rows' 5-s share, so it is off until measured at 60 s on a quiet machine "
        "(docs/campaign-solver.md, Stop 29).",
    )
    campaign_week_rows: bool = Field(
        False,
        description="After the campaign start (and the campaign_fit rows), separate the setup-week cover rows "
        "(optimization.campaign_weeks) on the relaxation for a few rounds, add them to the model and re-solve "
        "from the basis: a higher lower bound; the start and search keep the plain relaxation "
        "(docs/campaign-solver.md, Stop 26).",
    )
    campaign_need_bound: bool = Field(
        False,
        description="Link a campaign routing's starts to its setup by the smaller of the week's capacity and "
        "what is still worth starting from that week on (the product's demand that may still wait, largest "
        "safety stocks and end target, a component's through its parents, in whole batches): a dominance "
        "bound that keeps an optimal plan and makes the relaxation set a suite up a whole week for a product "
        "that needs a fraction of one (optimization.campaign_links.campaign_need). It lifted the relaxation "
        "by 0.45-2.4% on four networks for 10-48% more relaxation CPU, but the start sequenced from its "
        "vertex was 16.6% and 6.3% better on the two demos, 0.1% on a third network and 8.3% worse on a "
        "fourth, so it is off by default.",
    )
    campaign_relaxation_method: Literal["simplex", "ipm"] = Field(
        "simplex",
        description="HiGHS's method for the campaign MIP's LP relaxation: `simplex` (dual simplex) or `ipm` "
        "(interior point, then crossover to a vertex). ipm took 0.45x simplex's CPU on the multi-level demo "
        "(13.2 against 29.2 CPU-s, same objective and start) but 1.4x on two generated networks (11.5-12.4 "
        "against 8.3-9.0), so simplex stays the default.",
    )
    campaign_improve: bool = Field(
        True,
        description="With a campaign MIP start, improve it before the MIP by fix-and-optimize: each campaign "
        "resource in turn re-plans its setups with every other resource's fixed, from the incumbent, with an "
        "even share of the campaign time left (passes under 5 s are skipped). On the multi-level demo, "
        "passes of 120 s took the start from 16.0 G to 9.7 G, and a 600 s campaign limit at load 4 gave "
        "10.4 G; within the default 60 s there is no time left for a pass. Only with campaign_search off "
        "(each pass is a MIP cut by the clock: after the search it would make the plan depend on the load).",
    )
    campaign_search: bool = Field(
        True,
        description="Before the campaign start is completed, search the suites' schedules: the relaxation "
        "sequenced into campaigns and each suite's rotation through its products (1-3 cycles, campaigns sized "
        "from the relaxation's hours), then campaigns merged, swapped and moved while they improve, each "
        "schedule judged by a whole-batch plan made in LP time (the LP with its setups fixed, batches rounded "
        "down and up where the hours hold them, the LP again; optimization.campaign_search.SetupSearch), "
        "within campaign_search_evaluations. On the demo at 60 s the plan fell from 9,141.9 M to 4,936.1 M, "
        "on three generated networks by 12-35%. The PuLP path only.",
    )
    campaign_search_evaluations: int = Field(
        200,
        ge=1,
        description="The campaign search's budget: schedules judged (each one or two LPs) before it stops. "
        "The search ends on this count, not on the clock, so the same input gives the same plan on any "
        "machine and load; the clock (80% of the campaign time left after the relaxation) is only a safety "
        "limit, and the solver's log says when it cut the search. With the search on there is no MIP "
        "completion of its plan and no fix-and-optimize pass (MIPs cut by the clock).",
    )
    campaign_search_priced_moves: bool = Field(
        False,
        description="Try the search's moves, and the suites, in the order of their gain priced by the best "
        "plan's reduced costs of the setups (a first-order estimate) instead of fewest changeovers first. "
        "At 200 schedules: single-level network 6,231.8 M -> 4,566.4 M, but s5 +3.4% and the demo +0.3% "
        "(s7 unchanged), so it is off (docs/campaign-solver.md, stop 25).",
    )
    campaign_lagrangian: bool = Field(
        True,
        description="After the campaign relaxation, price each campaign resource's own block (setups, "
        "switches, lengths, batches, its capacity row) at the relaxation's duals and solve it as a small MIP: "
        "the relaxation plus what integrality costs each block is a Lagrangian lower bound, used for the "
        "reported gap when better (optimization.campaign_bound). The PuLP path only.",
    )
    campaign_time_blocks: bool = Field(
        True,
        description="With campaign_lagrangian, a second Lagrangian bound after the suites' own: each block a "
        "suite with its products' echelons (their stock, flows, backlog and shortfall: "
        "optimization.campaign_time), priced at the relaxation's duals with the fit rows right after it and "
        "solved on solve_workers threads, cheapest first, each to completion, within most of the campaign "
        "time left (optimization.campaign_worker, optimization.solve_start.TIME_BLOCK_SHARE); the better "
        "bound is reported. Its block MIPs see a product's demand waiting while another holds the suite (the "
        "US-BR02 piece 2,888 -> 3,882 M given 21 CPU-s). The start is then their schedules completed "
        "(price-and-fix, to a tenth of mip_gap: stop 31), the search only the fallback when they give no "
        "plan, and the MIP is skipped when that start is within mip_gap of the bound "
        "(optimization.solve_start._blocks_first; docs/campaign-solver.md, Stops 27-29). On by default since "
        "stop 29: at 60 s on a quiet machine the demo 37.81% -> 1.24% (with the search's moves from the "
        "blocks' schedule), the piece 27.52% -> 0.25%, s5 76.01% -> 36.38%, s7 and single the same plan with "
        "a higher bound.",
    )
    campaign_master: bool = Field(
        False,
        description="With campaign_lagrangian, go on from the relaxation's duals by column generation: a "
        "Dantzig-Wolfe master over each campaign resource's schedules (its block MIP's solutions), re-solved "
        "each round, its smoothed duals pricing the next; the best Lagrangian bound of the rounds is used for "
        "the reported gap (optimization.campaign_master), within campaign_master_seconds.",
    )
    campaign_master_seconds: float = Field(
        30.0,
        gt=0,
        description="Wall seconds the master's rounds (campaign_master, with its price-and-branch plan) may "
        "take, and at most half the campaign time left after the start "
        "(optimization.solve_start.MASTER_SHARE).",
    )
    campaign_price_and_branch: bool = Field(
        False,
        description="With campaign_master, also solve the restricted master with its weights binary (one "
        "generated schedule per suite) as a MIP for a plan, and start the MIP from it when it beats the start.",
    )
    campaign_priced_start: bool = Field(
        False,
        description="With campaign_lagrangian, also complete a start with each suite's setups fixed to its "
        "block MIP's schedule at the relaxation's prices (price-and-fix) and keep the better of it and the "
        "rounded start (each completion half the start's share of time). A suite whose block MIP found no plan "
        "in its time keeps its own setups. With campaign_time_blocks the blocks' priced start is the start "
        "whether this is on or not.",
    )
    campaign_kept_model: bool = Field(
        False,
        description="With `solve_path: auto`, a campaign network of any size is built as arrays and each "
        "campaign block solved on one kept highspy model (relaxation, start from its basis, "
        "fix-and-optimize passes and the MIP from the incumbent, fixed-integer LP), instead of the PuLP "
        "model re-built and re-solved from scratch at every step. Off by default: on four networks its "
        "plans were 0.2-2.7% dearer (the block's relaxation ends at another optimal vertex, and the start "
        "follows it) for 0.97x the CPU within the same 60 s; see docs/campaign-solver.md.",
    )
    campaign_start_completion: bool = Field(
        False,
        description="On the kept model, after the rounded start (setups fixed, batches rounded down), "
        "solve the batches as a MIP from it with a share of the time (setups still fixed), as the PuLP "
        "path completes its start. Off: on seed 7 it found 1,134 less on 13.2 G for 3.7 more CPU-s "
        "(docs/campaign-solver.md).",
    )
    campaign_mip_options: dict[str, bool | int | float | str] = Field(
        default_factory=dict,
        description="HiGHS options set on a campaign block's kept model for its MIP steps (fix-and-optimize "
        "passes and the MIP), e.g. `mip_heuristic_effort`; none by default (measured in "
        "docs/campaign-solver.md). `solve_path: pulp` ignores them.",
    )
    campaign_warm_start: bool = Field(
        True,
        description="With campaign resources, solve the LP relaxation first and start the MIP (HiGHS) from "
        "its production rounded to one product a week per suite.",
    )
    threads: int | None = Field(None, ge=1, description="Solver threads; None = the solver's default.")
    solve_path: Literal["auto", "pulp", "blocks"] = Field(
        "auto",
        description="How the LP is built and solved. `pulp`: one PuLP model, solved whole (the exact model as "
        "written). `blocks`: the same model built as arrays straight into HiGHS and solved as independent "
        "sub-networks (products that share no resource), in parallel; exact: a lane capacity that binds across "
        "them makes it solve the whole model from their bases. `auto`: `blocks` for a plan of at least "
        "`blocks_min_products` products, else `pulp`. A campaign network takes `blocks` like an LP: each "
        "block with campaign resources is solved as its own MIP (relaxation, start, MIP with its share of "
        "campaign_time_limit_seconds, fixed-integer LP). Lot sizing as a MIP (`mip: true`) always takes `pulp`.",
    )
    blocks_min_products: int = Field(
        300,
        ge=1,
        description="With `solve_path: auto`, plans (LP or campaigns) of at least this many products take the "
        "`blocks` path (the 40-product demo stays on `pulp`; the 2,300-product network takes `blocks`).",
    )
    solve_workers: int = Field(
        2,
        ge=1,
        description="Blocks solved at the same time on the `blocks` path, and campaign_time_blocks' blocks "
        "with time on the `pulp` path (threads of one process; each block's simplex is serial).",
    )
    lp_method: Literal["choose", "auto", "simplex", "ipm", "pdlp"] = Field(
        "choose",
        description="HiGHS's LP method on the `blocks` path (its `solver` option). `choose` lets HiGHS pick "
        "for every block (dual simplex for these models). `auto`: interior point with crossover for a block "
        "of at least `ipm_min_block_size` columns + rows that starts cold, HiGHS's choice for smaller blocks "
        "and for every block offered a stored basis (a warm start needs the simplex); not the default, as "
        "interior point took 0.5 of the simplex's CPU on the demo's largest block but 6.4x on a 700-product "
        "network's. `ipm` is interior point with crossover (still a basis and exact duals) for every block, "
        "`pdlp` first-order (no basis: the worth-of-an-hour re-solves start from scratch).",
    )
    simplex_edge_weights: Literal["devex", "choose", "steepest"] = Field(
        "devex",
        description="Dual simplex pricing on the `blocks` path (HiGHS's `simplex_dual_edge_weight_strategy`). "
        "`devex`: cheaper iterations, a few more of them; on the demo's largest block and the four largest of a "
        "700-product network it took 0.82-0.88 of the CPU of HiGHS's own choice (`choose`: steepest edge "
        "here), with the same optimum. `steepest`: dual steepest edge always.",
    )
    ipm_min_block_size: int = Field(
        200_000,
        ge=1,
        description="With `lp_method: auto`, cold blocks of at least this many columns + rows are solved by "
        "interior point with crossover.",
    )
    fallback: bool = Field(True, description="Retry with the other solver when the first one fails.")
    bucket_after_weeks: int | None = Field(
        None,
        ge=0,
        description="Plan the weeks after this many (and after the frozen weeks and the longest release + "
        "transit lag, whichever is later) in buckets of `bucket_weeks` weeks (an LP of fewer periods; "
        "optimization/buckets.py); the plan tables stay weekly. None = every week its own bucket (the exact "
        "model). LP plans only: a MIP or a campaign network keeps weekly buckets.",
    )
    bucket_weeks: int = Field(
        4, ge=2, le=13, description="Weeks in a far-week bucket (the last one may be shorter)."
    )

    @pydantic.model_validator(mode="after")
    def _buckets_supported(self) -> PlanConfig:
        if self.bucket_after_weeks is None:
            return self
        if self.max_backlog_weeks is not None:
            raise ValueError("bucket_after_weeks cannot be combined with max_backlog_weeks (a backlog's age is "
                             "counted in weeks); leave one of them unset")
        if self.min_shelf_life_share_at_dc > 0:
            raise ValueError("bucket_after_weeks cannot be combined with min_shelf_life_share_at_dc > 0 (the DC "
                             "rule counts weeks of remaining life); leave one of them unset")
        return self
