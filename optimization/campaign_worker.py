"""The blocks with time solved on the machine's cores, cheapest first, each to completion (issue 17, stops 27-29).

The Lagrangian bound over blocks with time (:mod:`optimization.campaign_time`) needs the relaxation's duals
(with the ``campaign_fit`` rows), not a plan, and its blocks are independent problems. On the demo they are
the campaign solve's largest cost (four MIPs, ≈ 71 CPU-s exact; docs/campaign-solver.md, stop 27) and a block
MIP's dual bound stays near its weak root until late in its tree (stop 28 §3): four blocks each stopped at an
even share give far less than three solved to the end. So the blocks are queued cheapest first (fewest
columns: :func:`cheapest_first`) and ``workers`` threads take the next one as they end, each block solved to
optimality or until the common deadline (a block stopped there gives its dual bound; one not started by then
adds nothing).

A block is solved as the solve asks (its batches continuous:
:func:`~optimization.campaign_time.schedule_integers`) within its fair share of the threads' time (the
seconds × threads / blocks), and where it is not exact by then, again with every integer in the time left
(``whole``), the better bound of the two kept (:func:`_better`: both are valid, the relaxed form's value
being at most the whole form's). On stop 42's machine the demo's BE-BR02, its batches continuous, was not
exact in 117 s, and whole it was within the time left: the campaign demo's gap went 2.20% → 0.99% in 60 s
(docs/campaign-solver.md, "Stop 42"). A block exact within its share is solved as before.

Threads, not processes: HiGHS releases the GIL while it runs (as on the ``blocks`` path,
:mod:`optimization.decompose`), so two threads use two cores without a spawned process's start-up, imports
and pickled model (stops 27-28's worker process), and each block's MIP stops itself at its time limit.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor

from optimization.campaign_bound import BlockBound, BlockSpec, solve_specs

__all__ = ["MIN_BLOCK_SECONDS", "TimeBlocksRun", "cheapest_first"]

#: a block that would start with less than this many seconds left before the deadline is not started (its LP
#: and the MIP's root would not end: it would add nothing)
MIN_BLOCK_SECONDS = 1.0


def cheapest_first(specs: list[BlockSpec]) -> list[int]:
    """The blocks' positions in the order they are solved: fewest columns first (then by name), the size as
    the measure of cost known before solving."""
    return sorted(range(len(specs)), key=lambda k: (len(specs[k].cols), specs[k].name))


class TimeBlocksRun:
    """The blocks ``specs`` (each block's own problem at the relaxation's prices) solved by ``workers``
    threads, cheapest first, within ``seconds`` of wall from now (module docstring). Started at once; the
    caller's thread is free until :meth:`result`."""

    def __init__(self, specs: list[BlockSpec], seconds: float, workers: int,
                 whole: list[BlockSpec] | None = None) -> None:
        self.specs, self.workers = specs, max(1, int(workers))
        self.whole = whole
        self.began, self.cpu = time.perf_counter(), time.process_time()
        self.until = self.began + max(float(seconds), 0.0)
        # a block's fair share of the threads' time: past it, a relaxed block that stalls tries its whole form
        self.patience = max(float(seconds), 0.0) * self.workers / max(len(specs), 1)
        self.retried = 0
        self.pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="time-block")
        self.futures: dict[int, Future] = {k: self.pool.submit(self._solve, k) for k in cheapest_first(specs)}

    def _solve(self, k: int) -> BlockBound | None:
        """Block ``k``'s LP and MIP until the deadline (None when not started or when its LP or MIP failed).
        With ``whole`` (the same blocks with every integer of the model), a block not exact within its fair
        share of the time (``patience``) is solved again whole in the time left, and the better bound kept
        (module docstring)."""
        left = self.until - time.perf_counter()
        if left < MIN_BLOCK_SECONDS:
            return None
        limited = self.whole is not None and left > self.patience  # a first try within the block's share
        solved = solve_specs([self.specs[k]], self.patience if limited else left)
        block = solved[0] if solved else None
        left = self.until - time.perf_counter()
        if not limited or (block is not None and block.optimal) or left < MIN_BLOCK_SECONDS:
            return block
        self.retried += 1
        again = solve_specs([self.whole[k]], left)
        return _better(block, again[0] if again else None)

    def result(self) -> tuple[list[BlockBound], str]:
        """The blocks solved (in ``specs``' order; those not started or failed left out) and a note of how many
        ended exact, stopped or not started, with the process's CPU-s and wall since the start (a thread's own CPU
        time misses the work HiGHS's MIP hands to its worker threads: 40.0 of ≈ 70 CPU-s on the demo; the
        process's includes what the caller's thread did meanwhile). Waits for every block (each MIP stops itself
        at the deadline)."""
        self.pool.shutdown(wait=True)
        out: dict[int, BlockBound] = {}
        failed = 0
        for k, future in self.futures.items():
            try:
                block = future.result()
            except Exception:  # noqa: BLE001 - HiGHS's failure on one block: that block adds nothing
                failed += 1
                continue
            if block is not None:
                out[k] = block
        blocks = [out[k] for k in sorted(out)]
        exact = sum(b.optimal for b in blocks)
        empty = len(self.specs) - len(blocks) - failed
        note = (f"{exact} exact, {len(blocks) - exact} stopped at the deadline"
                + (f", {self.retried} tried whole after their share" if self.retried else "")
                + (f", {empty} without a value (not started in time)" if empty else "") + (f", {failed} failed" if failed else "")
                + f"; on {self.workers} threads, cheapest first: {time.process_time() - self.cpu:.1f} CPU-s of the "
                f"process in {time.perf_counter() - self.began:.1f} s wall")
        return blocks, note


def _better(first: BlockBound | None, whole: BlockBound | None) -> BlockBound | None:
    """Of a block's relaxed and whole solves, the one with the higher MIP value (both are valid bounds on the
    block: its relaxed form's value is at most its whole form's), the whole one on a tie; one without a plan
    gives way to one with."""
    if first is None or whole is None:
        return whole or first
    if first.planned != whole.planned:
        return whole if whole.planned else first
    return whole if whole.mip >= first.mip else first
