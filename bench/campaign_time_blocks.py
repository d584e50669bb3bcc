"""How far blocks with time lift the campaign MIP's bound (issue 17, stop 27), on a stored run or an input.

Builds the campaign model exactly as ``bench/campaigns.py``'s ``after`` variant does (``plan_supply``'s model,
intercepted before it is solved), solves its LP relaxation (HiGHS), adds the ``campaign_fit`` rows and
re-solves from the basis (the 60-s path's relaxation bound, ``campaign_fit_bound``), then prices at that
relaxation's duals:

1. the one-round Lagrangian over the suites' own blocks (``optimization.campaign_bound``, the 60-s path's);
2. the same over blocks with time (``optimization.campaign_time``: a suite with its products' echelons), with
   whole batches, then with the batches continuous as the solve runs them (``schedule_integers``, stop 29;
   ``--batches-continuous-first`` swaps the two), each block's MIP, LP and whether it ended exact;
3. with ``--master-seconds S``, the Dantzig–Wolfe master over the blocks with time for ``S`` seconds (wall),
   each round's Lagrangian, master value and seconds.

Every bound printed is valid (a block MIP stopped by its time gives its dual bound). Prints values, their lift
over the fit rows' relaxation, CPU and wall seconds with the load. Writes no file.

    .venv/bin/python bench/campaign_time_blocks.py --warehouse plantwin-demo/warehouse.duckdb --mark-suites \
        --only-suites US-BR02 --seconds 60 --master-seconds 300
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pulp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import campaigns as bench_campaigns  # noqa: E402
from bench.campaign_cuts import Source  # noqa: E402
from optimization import PlanConfig  # noqa: E402
from optimization.campaign_bound import block_columns, lagrangian_bound, lp_matrix, own_rows  # noqa: E402
from optimization.campaign_bound import relaxation_with_rows  # noqa: E402
from optimization.campaign_master import dantzig_wolfe_bound  # noqa: E402
from optimization.campaign_time import schedule_integers, time_blocks  # noqa: E402
from optimization.campaign_links import campaign_fit  # noqa: E402
from optimization.pulp_highs import BulkHiGHS, integer_mask  # noqa: E402


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _took(since: tuple[float, float]) -> str:
    return (f"{time.process_time() - since[1]:.1f} CPU-s, {time.perf_counter() - since[0]:.1f} s wall, "
            f"load {os.getloadavg()[0]:.1f}")


def _sizes(h, blocks: dict[str, np.ndarray]) -> str:
    """Each block's columns, integer columns and own rows."""
    a = lp_matrix(h.getLp())
    rows = own_rows(a, list(blocks.values()))
    return "; ".join(f"{name}: {len(cols):,} columns, {len(r):,} own rows" for (name, cols), r in
                     zip(blocks.items(), rows, strict=True)) + f" (of {a.shape[1]:,} columns, {a.shape[0]:,} rows)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    bench_campaigns.source_arguments(ap)
    ap.add_argument("--only-suites", default=None, metavar="ID,ID",
                    help="with --mark-suites, keep only these resources campaign-run (e.g. US-BR02)")
    ap.add_argument("--seconds", type=float, default=60.0,
                    help="wall seconds for each one-round Lagrangian's block MIPs together (default 60)")
    ap.add_argument("--batches-continuous-first", action="store_true",
                    help="run the blocks with time with their batches continuous (schedule_integers) before the "
                         "round with whole batches, not after (to alternate the order between runs)")
    ap.add_argument("--master-seconds", type=float, default=0.0,
                    help="wall seconds for the master over the blocks with time (default 0: not run)")
    args = ap.parse_args()
    model = Source(args).model(PlanConfig())
    prob, variables = model.builder.prob, model.builder.variables
    ints = integer_mask(variables)
    began = _clock()
    if prob.solve(BulkHiGHS(mip=False, msg=False, variables=variables)) != pulp.LpStatusOptimal:
        print("relaxation not solved")
        return
    relaxed, h = pulp.value(prob.objective), prob.solverModel
    print(f"relaxation: {relaxed:,.0f} ({_took(began)})")
    began = _clock()
    f = model.frames
    names = campaign_fit(model.builder, model.network, f["setup_for"], f["pair"], model.config.frozen_weeks,
                         model.config.campaign_fill_rows)["name"]
    lifted, _ = relaxation_with_rows(h, [prob.constraints[n] for n in names.to_list()], variables,
                                     float(prob.objective.constant), 600.0)
    lifted = relaxed if lifted is None else lifted
    print(f"fit rows: {names.len()}, relaxation {lifted:,.0f} ({lifted / relaxed - 1:+.2%}; {_took(began)})")
    suites = block_columns(f)
    with_time = time_blocks(model.network, f, suites)
    print(f"suite blocks: {_sizes(h, suites)}")
    print(f"blocks with time: {_sizes(h, with_time)}")
    rounds = [("suite blocks", suites, ints), ("blocks with time, whole batches", with_time, ints),
              ("blocks with time, batches continuous", with_time, schedule_integers(f, ints))]
    for label, blocks, integers in rounds if not args.batches_continuous_first else [rounds[0], *rounds[:0:-1]]:
        began = _clock()
        bound = lagrangian_bound(h, blocks, integers, lifted, seconds=args.seconds)
        exact = sum(b.optimal for b in bound.blocks)
        print(f"one-round Lagrangian, {label}: {bound.bound:,.0f} ({bound.bound / lifted - 1:+.2%} over the fit "
              f"rows' relaxation; {exact} of {len(blocks)} blocks exact; {_took(began)})")
        for b in bound.blocks:
            print(f"  {b.resource_id}: MIP {b.mip:,.0f} ({'exact' if b.optimal else 'stopped: its dual bound'}), "
                  f"LP {b.lp:,.0f}, lift {b.mip - b.lp:,.0f}")
    if args.master_seconds > 0:
        began = _clock()
        dw = dantzig_wolfe_bound(h, with_time, ints, lifted, args.master_seconds)
        for i, r in enumerate(dw.rounds):
            print(f"  master round {i}: Lagrangian {r.lagrangian:,.0f}, master {r.master:,.0f}, {r.added} columns, "
                  f"{'exact' if r.exact else 'a pricing MIP stopped'}, {r.seconds:.1f} s (its LP {r.master_seconds:.1f} s)")
        print(f"master, blocks with time: bound {dw.bound:,.0f} ({dw.bound / lifted - 1:+.2%} over the fit rows' "
              f"relaxation; {len(dw.rounds)} rounds, {'converged' if dw.converged else 'stopped'}; {_took(began)})")


if __name__ == "__main__":
    main()
