"""Luhn-valid SIREN/SIRET numbers, vectorized."""
from __future__ import annotations

import numpy as np


def _luhn_check_digit(digits: np.ndarray) -> np.ndarray:
    """Check digit to append to each row of `digits` (n, m) so that the m+1 digits pass Luhn."""
    m = digits.shape[1]
    # once the check digit is appended, the digits at odd distance from the right are doubled
    doubled = (np.arange(m)[::-1] % 2) == 0
    d = digits.copy()
    d[:, doubled] *= 2
    d[:, doubled] -= 9 * (d[:, doubled] > 9)
    return (10 - d.sum(axis=1) % 10) % 10


def _to_str(digits: np.ndarray) -> np.ndarray:
    chars = (digits.astype(np.uint8) + ord("0")).astype(np.uint8)
    return np.array([row.tobytes().decode() for row in chars], dtype=object)


def random_sirens(rng: np.random.Generator, n: int) -> np.ndarray:
    """n SIREN (9 digits, Luhn-valid, first digit 1-9)."""
    body = rng.integers(0, 10, size=(n, 8))
    body[:, 0] = rng.integers(1, 10, size=n)
    return _to_str(np.column_stack([body, _luhn_check_digit(body)]))


def sirets_for(rng: np.random.Generator, sirens: np.ndarray) -> np.ndarray:
    """One Luhn-valid SIRET per given SIREN, with a random establishment number (NIC)."""
    n = len(sirens)
    if n == 0:
        return np.array([], dtype=object)
    siren_digits = np.frombuffer("".join(sirens).encode(), dtype=np.uint8).reshape(n, 9).astype(np.int64) - 48
    nic = rng.integers(0, 10, size=(n, 4))
    body = np.column_stack([siren_digits, nic])
    return _to_str(np.column_stack([body, _luhn_check_digit(body)]))
