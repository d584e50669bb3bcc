"""The blocks with time solved in a second process beside the campaign search (issue 17, stops 27-28).

The Lagrangian bound over blocks with time (:mod:`optimization.campaign_time`) needs the relaxation's duals
with the ``campaign_fit`` rows, not the search's plan, so it can run on the machine's second core while the
search runs on the first. Everything between the relaxation and the search's start is moved here too: the
worker takes the solved relaxation and its basis as arrays (:class:`~optimization.campaign_bound.LpArrays`),
adds the fit rows and re-solves (7.5-10 s of wall on s7 and single at load 7, which stop 27's form spent in
the parent before the search), prices the blocks at the lifted relaxation's duals and solves their LPs and
MIPs. It sends two messages: the lifted relaxation (its objective and basis, so the parent takes it up with a
factorisation after its search) and then the blocks.

Spawned, not forked: a fork of a process holding Prefect's and HiGHS's threads may hang. It runs at a lower
priority (:data:`NICE`): on a loaded machine the search, whose plan is the start, keeps its share of the CPU
and the blocks take what is idle. A worker not back in time adds nothing and is stopped.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from dataclasses import dataclass

import numpy as np

from optimization.campaign_bound import (
    LagrangianBound, LpArrays, RowArrays, basis_arrays, block_specs, bound_of, relaxation_with_row_arrays,
    solve_specs,
)

__all__ = ["GRACE", "NICE", "Lifted", "TimeBlocksJob"]

#: seconds past its limit that the worker is waited for (its start-up, HiGHS ending its last node) before it
#: is stopped and its blocks add nothing
GRACE = 5.0
#: the worker's ``nice`` increment: at load 6-10 an equal-priority worker slowed the search 2-4x (cut by the
#: clock on s5 after 64 of its 200 schedules, its plan +7.7%; docs/campaign-solver.md, stop 27)
NICE = 10


@dataclass(frozen=True)
class Lifted:
    """The relaxation with the fit rows as the worker solved it: its objective (None when the rows did not
    re-solve to an optimum in their time: the blocks were then priced at the plain relaxation), the basis of
    the model with the rows (None with the objective) and the worker's seconds to get there."""

    objective: float | None
    basis: tuple[np.ndarray, np.ndarray] | None
    seconds: float


def _work(conn) -> None:
    """The worker: its work received (:class:`TimeBlocksJob`), the relaxation taken up from its basis, the fit
    rows added and re-solved (sent), the blocks priced at its duals and solved until ``until`` (a
    ``time.monotonic()`` instant: one clock for every process, so the worker's start-up comes out of its time;
    sent with the worker's CPU-s)."""
    os.nice(NICE)
    lp, rows, constant, fit_seconds, blocks, ints, until = conn.recv()
    cpu, began = time.process_time(), time.monotonic()
    h = lp.highs()
    objective, priced = relaxation_with_row_arrays(h, rows, constant, fit_seconds)
    conn.send(Lifted(objective, None if objective is None else basis_arrays(h), time.monotonic() - began))
    solved = solve_specs(block_specs(h, blocks, ints), until - time.monotonic()) if priced else []
    conn.send((solved, time.process_time() - cpu))
    conn.close()


class TimeBlocksJob:
    """The fit rows' re-solve and the blocks with time in one worker process (module docstring), started with
    the relaxation ``lp`` (objective ``relaxed``), the fit ``rows``, the objective's ``constant``, the blocks'
    columns and integrality; the rows get ``fit_seconds``, everything ``seconds`` of wall."""

    def __init__(self, lp: LpArrays, rows: RowArrays, constant: float, relaxed: float, fit_seconds: float,
                 blocks: dict[str, np.ndarray], ints: np.ndarray, seconds: float) -> None:
        self.relaxed, self.began = relaxed, time.perf_counter()
        self.fit_until = self.began + min(fit_seconds, seconds) + GRACE
        self.waits_until = self.began + seconds + GRACE
        self.lifted: Lifted | None = None
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_work, args=(child,), daemon=True)
        self.process.start()
        child.close()
        # the work (megabytes on the demo) goes down the pipe from a thread: a pipe holds 64 KB, so a plain send
        # (or the work as the process's arguments) would wait for the worker's start-up and imports, 7.6 s of
        # wall at load 22 before the search could start
        self.sender = threading.Thread(target=self._send, daemon=True, args=(
            (lp, rows, constant, fit_seconds, blocks, ints, time.monotonic() + seconds),))
        self.sender.start()

    def _send(self, work: tuple) -> None:
        """The work down the pipe (a worker stopped before it read it leaves nothing to send to)."""
        try:
            self.conn.send(work)
        except OSError:
            pass

    def fitted(self, wait: float | None = None) -> Lifted | None:
        """The lifted relaxation, waited for at most ``wait`` seconds (default: until the rows' time and
        :data:`GRACE` from the worker's start are up); None when not back by then or the worker failed: the
        parent keeps the plain relaxation."""
        if self.lifted is None:
            self.lifted = self._receive(self.fit_until - time.perf_counter() if wait is None else wait)
        return self.lifted if isinstance(self.lifted, Lifted) else None

    def bound(self) -> tuple[LagrangianBound | None, str]:
        """The Lagrangian bound over the blocks the worker solved, from the relaxation that priced them (the
        lifted one, or the plain one when the rows did not re-solve), None when the worker failed or was late,
        and a note of its CPU and wall time. The worker is stopped after."""
        try:
            lifted = self.fitted(self.waits_until - time.perf_counter())
            if lifted is None:
                return None, f"no relaxation back in {time.perf_counter() - self.began:.1f} s wall: stopped"
            got = self._receive(self.waits_until - time.perf_counter())
        finally:
            self.close()
        if got is None:
            return None, f"not back in {self.waits_until - self.began:.1f} s wall: stopped"
        solved, cpu = got
        relaxation = self.relaxed if lifted.objective is None else lifted.objective
        return bound_of(relaxation, solved), (
            f"{cpu:.1f} CPU-s in a second process, {time.perf_counter() - self.began:.1f} s wall from its start")

    def _receive(self, wait: float):
        """The worker's next message, or None when none came in ``wait`` seconds or the worker ended without one."""
        began = time.perf_counter()
        self.sender.join(max(wait, 0.0))
        if self.sender.is_alive():  # the worker has not even read its work
            return None
        wait -= time.perf_counter() - began
        try:
            return self.conn.recv() if self.conn.poll(max(wait, 0.0)) else None
        except (EOFError, OSError):  # the worker died: it adds nothing
            return None

    def close(self) -> None:
        """Stop the worker (nothing when it has ended)."""
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        self.sender.join()
