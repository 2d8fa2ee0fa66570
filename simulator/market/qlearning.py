"""Q-learning pricing in the repeated logit stage game (the algorithmic-pricing literature's
form: Calvano, Calzolari, Denicolo & Pastorello 2020, AER). Pure numpy, no Mesa, no config.

The stage game: n firms with fixed costs, qualities and brands set prices on a grid of k
prices each; firm i earns (p_i - c_i) D_i(p), D the logit demand of simulator.market.demand
(any product no firm prices, such as a free open model, is folded into the outside option:
exp(u0'/mu) = exp(u0/mu) + exp(u_j/mu), which leaves every firm's demand as it was).
Capacities are ignored, as in the static benchmarks of simulator.market.equilibrium.
Since nothing in it changes, its profits are precomputed once: a matrix over the k^n price
vectors (``StageGame.profits``).

Each firm's grid spans its static Bertrand-Nash price p^N and joint-profit price p^M,
extended by ``extension`` x (p^M - p^N) on both sides (Calvano et al.: 15 points, 0.1). The
state is the last ``memory`` periods of every firm's price index (k^(n memory) states).
Each period every learner takes its greedy price with probability 1 - epsilon_t, else a
uniformly random one, epsilon_t = exp(-exploration_decay t), and updates

    Q(s, a) <- (1 - alpha) Q(s, a) + alpha (pi + delta max_a' Q(s', a'))

with s' the state the period's prices make. Q starts at the discounted payoff of each price
against rivals pricing uniformly at random: Q_0(s, a_i) = mean_{a_-i} pi_i(a) / (1 - delta).

``learn`` runs many independently seeded runs at once: every run's Q-tables are one array
(firms x runs x states x prices) and a period is a handful of vectorised operations over the
runs. A run stops once every learner's greedy price in every state has been unchanged for
``convergence_periods`` periods (only the visited state's greedy price can change in a
period), or at ``max_periods``; its outcome is then the average profit and price of
``evaluation_periods`` periods of greedy play (no exploration, no learning) from where it
stopped, and its profit gain Delta = (profit - pi^N) / (pi^M - pi^N).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from simulator.market.demand import D, SegmentParams, utilities
from simulator.market.equilibrium import bertrand_nash, joint_profit_prices

Array = np.ndarray

CHUNK = 8192
"""Periods whose random draws are made at once (per run, from the run's own generator, so a
run's path depends on its seed only, not on which runs share its batch)."""
MAX_TABLE_BYTES = 4 * 2**30
"""Largest Q-table array (all runs of a batch) ``learn`` accepts."""


def fold_products(
    prices: Array, quality: Array, brand: Array, seg: SegmentParams, n_firms: int
) -> SegmentParams:
    """Segment parameters in which the products beyond the first ``n_firms`` (priced by no
    firm) are part of the outside option: every firm's logit demand is unchanged."""
    if len(prices) <= n_firms:
        return seg
    u = utilities(prices[n_firms:], quality[n_firms:], brand[n_firms:], seg)
    scaled = np.vstack([seg.u0[None, :], u]) / seg.mu
    top = scaled.max(axis=0)
    u0 = seg.mu * (top + np.log(np.exp(scaled - top).sum(axis=0)))
    return SegmentParams(alpha=seg.alpha, beta=seg.beta, gamma=seg.gamma, mu=seg.mu, u0=u0)


def price_grid(nash: Array, joint: Array, points: int, extension: float | Array) -> Array:
    """(points, n): firm i's k prices from p^N - x (p^M - p^N) to p^M + x (p^M - p^N)
    (x = ``extension``, one value or one per firm)."""
    nash, joint = np.asarray(nash, dtype=float), np.asarray(joint, dtype=float)
    extension = np.asarray(extension, dtype=float)
    spread = joint - nash
    lo, hi = nash - extension * spread, joint + extension * spread
    return lo[None, :] + (hi - lo)[None, :] * np.linspace(0.0, 1.0, points)[:, None]


def stage_profits(
    grid: Array, costs: Array, quality: Array, brand: Array, seg: SegmentParams, size: Array
) -> Array:
    """(n, k^n): each firm's profit at every price vector of the grid, the vector of
    indices (a_0, ..., a_{n-1}) at column sum_i a_i k^(n-1-i)."""
    k, n = grid.shape
    index = np.indices((k,) * n).reshape(n, -1)  # (n, k^n), row-major
    prices = grid[index, np.arange(n)[:, None]]  # (n, k^n)
    out = np.empty(prices.shape)
    for start in range(0, prices.shape[1], 8192):
        block = prices[:, start : start + 8192]
        # utilities of every firm at every price vector of the block: (n, B, S)
        fixed = seg.beta * quality + seg.gamma * np.log1p(np.maximum(brand, 0.0))[:, None]
        u = fixed[:, None, :] - seg.alpha * block[:, :, None]
        scaled = u / seg.mu
        top = np.maximum(scaled.max(axis=0), seg.u0 / seg.mu)
        denominator = np.exp(seg.u0 / seg.mu - top) + np.exp(scaled - top).sum(axis=0)
        shares = np.exp(scaled - top) / denominator
        out[:, start : start + 8192] = (block - costs[:, None]) * (shares * size).sum(axis=2)
    return out


def initial_q(profits: Array, points: int, discount: Array) -> Array:
    """Q_0 (n, k): firm i's profit with price a against uniformly random rivals, / (1 - delta)."""
    n = profits.shape[0]
    table = profits.reshape((n,) + (points,) * n)
    out = np.empty((n, points))
    for i in range(n):
        out[i] = np.moveaxis(table[i], i, 0).reshape(points, -1).mean(axis=1)
    return out / (1.0 - np.asarray(discount, dtype=float))[:, None]


def q_update(
    q: Array, state: int, action: int, reward: float, next_state: int, rate: float, discount: float
) -> float:
    """One Q-learning update of table ``q`` (states, actions) in place; returns the new value
    Q(s, a) = (1 - rate) Q(s, a) + rate (reward + discount max_a' Q(s', a'))."""
    target = reward + discount * q[next_state].max()
    q[state, action] = (1.0 - rate) * q[state, action] + rate * target
    return float(q[state, action])


def epsilon(period: Array, decay: float | Array) -> Array:
    """Exploration probability exp(-decay t)."""
    return np.exp(-np.asarray(decay) * np.asarray(period, dtype=float))


@dataclass(frozen=True)
class StageGame:
    """The repeated game's stage: grids, the precomputed profit matrix and the benchmarks."""

    grid: Array  # (k, n)
    profits: Array  # (n, k^n)
    costs: Array  # (n,)
    nash: Array  # static Bertrand-Nash prices (n,)
    joint: Array  # joint-profit prices (n,)
    nash_profit: Array  # (n,)
    joint_profit: Array  # (n,)

    @classmethod
    def build(cls, costs, quality, brand, seg, size, points: int, extension) -> StageGame:
        costs = np.asarray(costs, dtype=float)
        quality, brand = np.asarray(quality, dtype=float), np.asarray(brand, dtype=float)
        size = np.asarray(size, dtype=float)
        nash = bertrand_nash(costs, quality, brand, seg, size)
        joint = joint_profit_prices(costs, quality, brand, seg, size)
        grid = price_grid(nash, joint, points, extension)

        def profit(p: Array) -> Array:
            demand, _ = D(p, quality, brand, seg, size)
            return (p - costs) * demand.sum(axis=1)

        return cls(
            grid=grid,
            profits=stage_profits(grid, costs, quality, brand, seg, size),
            costs=costs,
            nash=nash,
            joint=joint,
            nash_profit=profit(nash),
            joint_profit=profit(joint),
        )

    @property
    def points(self) -> int:
        return self.grid.shape[0]

    @property
    def n_firms(self) -> int:
        return self.grid.shape[1]

    def gain(self, profit: Array) -> Array:
        """Profit gain Delta = (profit - pi^N) / (pi^M - pi^N), per firm (last axis)."""
        return (np.asarray(profit) - self.nash_profit) / (self.joint_profit - self.nash_profit)


@dataclass(frozen=True)
class Learners:
    """The learners' parameters, one value per firm (n,)."""

    rate: Array
    decay: Array
    discount: Array
    memory: int = 1


@dataclass
class RunOutcome:
    """One finished learning run."""

    run: int
    seed: int
    periods: int
    converged: bool
    profit: Array  # mean profit per firm over the evaluation periods (n,)
    price: Array  # mean price per firm over them (n,)
    delta: Array  # profit gain per firm (n,)


def run_seed(root: int, run: int) -> int:
    """Seed of run ``run``: the run-th child of SeedSequence(root), whatever the number of
    runs (so more runs later reuse the earlier ones)."""
    sequence = np.random.SeedSequence(root, spawn_key=(run,))
    return int(sequence.generate_state(1, dtype=np.uint32)[0])


class BatchLearner:
    """Many runs of the same game at once. ``Q`` is (n, runs, states, k), ``greedy`` (n, runs,
    states) its argmax, ``state`` (runs,) the current state of each run."""

    def __init__(self, game: StageGame, learners: Learners, seeds: Sequence[int]):
        self.game, self.learners = game, learners
        n, k = game.n_firms, game.points
        self.k, self.n, self.runs = k, n, len(seeds)
        self.states = k ** (n * learners.memory)
        table_bytes = 8 * n * self.runs * self.states * k
        if table_bytes > MAX_TABLE_BYTES:
            raise ValueError(
                f"the Q-tables would take {table_bytes / 2**30:.1f} GiB ({k} prices, {n} firms, "
                f"memory {learners.memory}: {self.states:,} states); use fewer runs per batch, "
                "prices or memory"
            )
        q0 = initial_q(game.profits, k, learners.discount)
        self.Q = np.broadcast_to(q0[:, None, None, :], (n, self.runs, self.states, k)).copy()
        self.greedy = np.broadcast_to(
            q0.argmax(axis=1)[:, None, None], (n, self.runs, self.states)
        ).copy()
        self.rngs = [np.random.default_rng(seed) for seed in seeds]
        self.state = np.array([rng.integers(self.states) for rng in self.rngs], dtype=np.int64)
        self.strides = k ** np.arange(n - 1, -1, -1, dtype=np.int64)
        self.period = 0

    def draws(self, runs: Array, start: int, periods: int) -> Array:
        """(periods, n, len(runs)): the explored price index of each firm, -1 where it exploits."""
        eps = epsilon(start + np.arange(periods)[:, None], self.learners.decay[None, :])
        out = np.empty((periods, self.n, len(runs)), dtype=np.int64)
        for column, run in enumerate(runs):
            rng = self.rngs[run]
            explore = rng.random((periods, self.n)) < eps
            actions = rng.integers(0, self.k, (periods, self.n))
            out[:, :, column] = np.where(explore, actions, -1)
        return out

    def greedy_play(self, runs: Array, periods: int) -> tuple[Array, Array]:
        """Mean profit and price (n, len(runs)) of ``periods`` periods of greedy play from each
        run's current state; nothing is learned."""
        n, states, k_n = self.n, self.states, self.k**self.n
        flat = self.greedy.reshape(-1)
        base = (np.arange(n)[:, None] * self.runs + runs[None, :]) * states
        state = self.state[runs].copy()
        profit = np.zeros((n, len(runs)))
        price = np.zeros((n, len(runs)))
        firms = np.arange(n)[:, None]
        for _ in range(periods):
            action = flat[base + state]
            joint = self.strides @ action
            profit += self.game.profits[:, joint]
            price += self.game.grid[action, firms]
            state = (state * k_n + joint) % states
        return profit / periods, price / periods

    def learn(
        self,
        max_periods: int,
        convergence_periods: int,
        on_finish: Callable[[Array, Array], None],
        progress: Callable[[int, int], None] | None = None,
        history: list | None = None,
    ) -> None:
        """Learn until every run has converged or reached ``max_periods``; ``on_finish(runs,
        converged)`` is called as runs stop (runs indices into the batch). ``history``, if
        given, receives (state, actions, rewards, next state) of every period (for tests).

        The greedy table is kept exact, so max_a' Q(s', a') is Q(s', greedy(s')); convergence
        is checked only when the earliest possible one is due (the last change of a greedy
        price per firm and run is kept, and it can only move later)."""
        n, k, states = self.n, self.k, self.states
        k_n = k**n
        Qf, Gf = self.Q.reshape(-1), self.greedy.reshape(-1)
        rows = self.Q.reshape(-1, k)
        rate = self.learners.rate[:, None]
        discount = self.learners.discount[:, None]
        profits, strides = self.game.profits, self.strides
        firms = np.arange(n)[:, None]
        active = np.arange(self.runs)
        last = np.full((n, self.runs), self.period - 1, dtype=np.int64)  # last greedy change
        t = self.period
        window = convergence_periods
        while len(active) and t < max_periods:
            periods = min(CHUNK, max_periods - t)
            explored = self.draws(active, t, periods)
            gbase = (firms * self.runs + active[None, :]) * states  # (n, R_active)
            state = self.state[active]
            changed = last[:, active]
            due = int(changed.max(axis=0).min()) + window  # earliest possible convergence
            tt = 0
            while tt < periods:
                period = t + tt
                gidx = gbase + state
                current = Gf.take(gidx)
                pick = explored[tt]
                action = np.where(pick >= 0, pick, current)
                joint = strides @ action
                reward = profits.take(joint, axis=1)
                after = joint if states == k_n else (state * k_n + joint) % states
                gnext = gbase + after
                best_next = Qf.take(gnext * k + Gf.take(gnext))
                cell = gidx * k + action
                old = Qf.take(cell)
                Qf[cell] = old + rate * (reward + discount * best_next - old)
                fresh = rows.take(gidx, axis=0).argmax(axis=-1)
                Gf[gidx] = fresh
                changed[fresh != current] = period
                if history is not None:
                    history.append((state.copy(), action.copy(), reward.copy(), after.copy()))
                state = after
                tt += 1
                if period >= due:
                    done = period - changed.max(axis=0) >= window
                    if done.any():
                        self.state[active], last[:, active] = state, changed
                        self.period = period + 1
                        on_finish(active[done], np.ones(int(done.sum()), dtype=bool))
                        keep = ~done
                        active, state, changed = active[keep], state[keep], changed[:, keep]
                        explored, gbase = explored[:, :, keep], gbase[:, keep]
                        if not len(active):
                            break
                    due = int(changed.max(axis=0).min()) + window
            t += tt
            self.state[active], last[:, active] = state, changed
            self.period = t
            if progress is not None:
                progress(t, len(active))
        if len(active):
            on_finish(active, np.zeros(len(active), dtype=bool))


def learn(
    game: StageGame,
    learners: Learners,
    runs: Sequence[int],
    seeds: Sequence[int],
    max_periods: int,
    convergence_periods: int,
    evaluation_periods: int,
    on_outcome: Callable[[RunOutcome], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[RunOutcome]:
    """Learn the runs ``runs`` (ids) with ``seeds`` in one batch; outcomes in finishing order,
    each passed to ``on_outcome`` as soon as its run stops."""
    batch = BatchLearner(game, learners, seeds)
    outcomes: list[RunOutcome] = []

    def finish(members: Array, converged: Array) -> None:
        profit, price = batch.greedy_play(members, evaluation_periods)
        for column, member in enumerate(members):
            outcome = RunOutcome(
                run=int(runs[member]),
                seed=int(seeds[member]),
                periods=batch.period,
                converged=bool(converged[column]),
                profit=profit[:, column],
                price=price[:, column],
                delta=game.gain(profit[:, column]),
            )
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)

    batch.learn(max_periods, convergence_periods, finish, progress)
    return outcomes
