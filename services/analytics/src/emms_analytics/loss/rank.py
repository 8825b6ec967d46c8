"""Rank the points that may explain a model's abnormal loss by how much each one's pattern explains it (pure).

Over the complete days of a window, with ``L`` the model's daily loss, ``S`` its outputs' sum and ``x`` a
candidate point's daily usage (the model's members, and the outputs of abnormal neighbouring models — a meter
listed under the wrong area sits in a neighbour's list):

* **one for one**, a member — how much of the loss's variation around a technical loss (a level plus a share of
  the outputs, and the loss's step when it has one: a least-squares fit) is gone once the candidate's usage is
  taken out one for one: ``1 − RSS(L + x) / RSS(L)`` on the residuals, for this model's output (listed here but
  physically elsewhere: this loss falls as its usage rises). A point of a similar shape but another size removes
  little. Not for inputs (``L = inputs − outputs`` would make it trivial);
* **one for one**, a neighbour's point — listed there, physically here on **every** day: how much of the loss's
  departure from a technical loss (a level plus at most ``MAX_TECHNICAL_SHARE`` of the outputs, no step) is gone
  in ``L − x``. Every day counts: a loss that stepped up when a meter here stopped is not explained by a
  neighbour's meter of the same daily shape that was as large before the step (the simulator's 200-area network
  has such meters: with the step and a free share in the fit they scored 0.98 and outranked the stopped meter).
  A point whose usage exceeds the loss on some day (beyond the meters' accuracy) cannot be here at all.
  With its home model's loss and outputs given it must explain **both** losses — its home's deficit goes in
  ``L_home + x`` — and its part is the smaller of the two;
* **step** — where the loss rate steps (the split of the window with the largest change of its mean, the change
  well beyond the rate's spread on either side; a loss that only follows the load's daily shape has none), how well the
  candidate's drop of usage across that split matches the step (the rate's change × the mean input: what the
  load's daily swing moves in the loss does not count): a bypassed or stopped meter reads
  less from the day the loss rises. ``1 − |step − drop| / |step|``, 0 when the drop has the wrong sign or is not
  there.

The score is the larger of the two (0…1); the answer lists the candidates best first with both parts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ranked:
    point: str
    relation: str  # input, output (members) or neighbour (an output of an abnormal neighbouring model)
    score: float
    co_movement: float
    step: float
    direction: str

    def as_json(self) -> dict[str, object]:
        return {"metering_point_id": self.point, "relation": self.relation, "score": round(self.score, 4),
                "co_movement": round(self.co_movement, 4), "step": round(self.step, 4), "direction": self.direction}


def _mean(v: Sequence[float]) -> float:
    return sum(v) / len(v)


def _basis(columns: Sequence[Sequence[float]]) -> list[list[float]]:
    """An orthonormal basis of the columns' span (Gram–Schmidt; dependent columns dropped)."""
    out: list[list[float]] = []
    for col in columns:
        v = list(col)
        for q in out:
            dot = sum(a * b for a, b in zip(v, q, strict=True))
            v = [a - dot * b for a, b in zip(v, q, strict=True)]
        norm = math.sqrt(sum(a * a for a in v))
        if norm > 1e-9 * max(1.0, math.sqrt(sum(a * a for a in col))):
            out.append([a / norm for a in v])
    return out


def _residuals(y: Sequence[float], basis: Sequence[Sequence[float]]) -> list[float]:
    """y minus its least-squares fit on the basis."""
    r = list(y)
    for q in basis:
        dot = sum(a * b for a, b in zip(r, q, strict=True))
        r = [a - dot * b for a, b in zip(r, q, strict=True)]
    return r


def _one_for_one(rl: Sequence[float], x: Sequence[float], d: float, basis: Sequence[Sequence[float]]) -> float:
    sll = sum(a * a for a in rl)
    if sll <= 1e-12:
        return 0.0
    rest = _residuals([a - d * b for a, b in zip(rl, _residuals(x, basis), strict=True)], basis)
    return max(0.0, 1.0 - sum(a * a for a in rest) / sll)


def step_split(loss: Sequence[float]) -> tuple[int, float] | None:
    """(first day after the step, size of the step) of the split with the largest change of the mean."""
    best: tuple[int, float] | None = None
    for k in range(1, len(loss)):
        jump = _mean(loss[k:]) - _mean(loss[:k])
        if best is None or abs(jump) > abs(best[1]):
            best = (k, jump)
    return best


@dataclass(frozen=True, slots=True)
class _Fit:
    basis: list[list[float]]
    residual: list[float]
    enough: bool
    split: tuple[int, float] | None


STEP_OVER_SPREAD = 5.0


def _spread(v: Sequence[float]) -> float:
    m = _mean(v)
    return math.sqrt(sum((a - m) ** 2 for a in v) / len(v))


def _fit(loss: Sequence[float], outputs: Sequence[float], min_step: float) -> _Fit:
    """The loss's residual after a technical loss: a level, a share of the outputs and its step (when it has one
    of at least ``min_step``). The step is looked for in the loss **rate**, and it is one only when it is
    ``STEP_OVER_SPREAD`` times the rate's spread on either side: a meter that stops or is bypassed moves the rate
    from that day on, while a loss that follows the load's daily shape (a meter of this area listed under another,
    every day) moves the rate up and down with it."""
    n = len(loss)
    inputs = [v + o for v, o in zip(loss, outputs, strict=True)]
    mean_in = _mean(inputs)
    stepped: tuple[int, float] | None = None
    rate = [v / i if i > 0 else 0.0 for v, i in zip(loss, inputs, strict=True)]
    split = step_split(rate)
    if split is not None and mean_in > 0 and abs(split[1]) * mean_in >= min_step:
        k = split[0]
        if abs(split[1]) >= STEP_OVER_SPREAD * max(_spread(rate[:k]), _spread(rate[k:])):
            stepped = (k, split[1] * mean_in)  # the loss the rate's change stands for, not the load shape's swing
    columns: list[Sequence[float]] = [[1.0] * n, outputs]
    if stepped is not None:
        columns.append([0.0] * stepped[0] + [1.0] * (n - stepped[0]))
    basis = _basis(columns)
    enough = n - len(basis) >= 2  # co-movement needs days beyond the fitted level, outputs and step
    return _Fit(basis, _residuals(loss, basis) if enough else [0.0] * n, enough, stepped)


MAX_TECHNICAL_SHARE = 0.2
"""A technical loss is a level plus at most this share of the outputs (a wider fit would absorb a culprit)."""


def _technical_residual(loss: Sequence[float], outputs: Sequence[float]) -> list[float]:
    """``loss`` minus its least-squares fit ``a + b × outputs`` with ``0 ≤ b ≤ MAX_TECHNICAL_SHARE`` (the profile
    of the fit in ``b`` is a convex parabola: a ``b`` outside the range goes to its nearer end)."""
    n = len(loss)
    mo, ml = _mean(outputs), _mean(loss)
    var = sum((o - mo) ** 2 for o in outputs)
    b = sum((o - mo) * (v - ml) for o, v in zip(outputs, loss, strict=True)) / var if var > 1e-12 else 0.0
    b = min(max(b, 0.0), MAX_TECHNICAL_SHARE)
    a = ml - b * mo
    return [loss[k] - a - b * outputs[k] for k in range(n)]


def _moved_here(loss: Sequence[float], outputs: Sequence[float], x: Sequence[float], d: float) -> float:
    """How much of ``loss``'s departure from a technical loss is gone once ``x`` is moved one for one (``d = +1``:
    the point is physically here, so the loss without it is ``loss − x``; ``−1``: listed here, physically
    elsewhere: ``loss + x``). Every day counts — such a meter is misplaced on each of them."""
    before = sum(r * r for r in _technical_residual(loss, outputs))
    if before <= 1e-12:
        return 0.0
    moved = [v - d * u for v, u in zip(loss, x, strict=True)]
    after = sum(r * r for r in _technical_residual(moved, outputs))
    return max(0.0, 1.0 - after / before)


NEGATIVE_TOLERANCE = 0.05
"""A loss rate below −5 % of the input is beyond the meters' accuracy: no meter's move may leave one."""


def _could_be_here(loss: Sequence[float], outputs: Sequence[float], x: Sequence[float]) -> bool:
    """Whether a meter of usage ``x`` can be physically here on every day: the loss without it (``loss − x``) must
    stay a loss — not below ``−NEGATIVE_TOLERANCE`` of the day's input. A meter as large as the loss on the days
    after a stop was not also here on the days before it, when the loss was small."""
    return all(v - u >= -NEGATIVE_TOLERANCE * (v + o) for v, o, u in zip(loss, outputs, x, strict=True))


def rank(loss: Sequence[float], outputs: Sequence[float], candidates: Mapping[str, tuple[str, Sequence[float]]],
         min_step: float, top: int = 10,
         homes: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None) -> list[Ranked]:
    """Candidates (point → (relation, daily usage aligned with ``loss``)) by score, best first (at most ``top``).
    ``min_step``: a smaller step of the loss is no step (its score part is 0). ``homes``: for a neighbour's point,
    its home model's (loss, outputs) over the same days."""
    n = len(loss)
    if n < 2:
        return []
    here = _fit(loss, outputs, min_step)
    out = []
    for point, (relation, x) in candidates.items():
        # an input explains its own model's loss trivially (loss = inputs − outputs): only its step counts
        d = 1.0 if relation == "neighbour" else -1.0
        if relation == "neighbour":
            co = _moved_here(loss, outputs, x, +1.0) if _could_be_here(loss, outputs, x) else 0.0
            home = (homes or {}).get(point)
            if home is not None and co > 0.0:
                co = min(co, _moved_here(home[0], home[1], x, -1.0))
        else:
            co = _one_for_one(here.residual, x, d, here.basis) if here.enough and relation != "input" else 0.0
        step = 0.0
        if here.split is not None and relation != "neighbour":  # a neighbour's meter is wrongly listed, not
            k, jump = here.split                                 # reading less
            drop = _mean(x[:k]) - _mean(x[k:])  # usage lost across the step
            effect = drop if relation != "input" else -drop  # a lost output raises the loss, a lost input lowers it
            if effect * jump > 0:
                step = max(0.0, 1.0 - abs(jump - effect) / abs(jump))
        direction = "loss rises with its usage" if d > 0 else "loss falls as its usage rises"
        if step > co:
            direction = "its usage dropped when the loss stepped"
        score = max(co, step)
        if math.isfinite(score):
            out.append(Ranked(point, relation, score, co, step, direction))
    out.sort(key=lambda r: (-r.score, r.point))
    return out[:top]
