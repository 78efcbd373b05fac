"""The one rule for a user's seed: a whole number in [0, MAX_SEED].

numpy and torch reject a negative seed with their own message, deep in a fit. Components derive
seeds from the user's (``seed + 1``, ``seed * 100_003 + epoch``), so the upper bound, the signed
32-bit range, keeps every derived seed within what numpy, torch (below 2**64) and implicit accept.
The command line and the config check the seed before any work starts.
"""

from __future__ import annotations

import argparse

__all__ = ["MAX_SEED", "seed_problem", "seed_argument"]

MAX_SEED = 2**31 - 1


def seed_problem(seed: object) -> str | None:
    """Why ``seed`` is not a usable seed, or None when it is."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        return f"seed must be a whole number from 0 to {MAX_SEED}, got {seed!r}"
    return None


def seed_argument(text: str) -> int:
    """``argparse`` type of ``--seed``: a bad value is a usage error (exit 2) that names it."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    problem = seed_problem(seed)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return seed
