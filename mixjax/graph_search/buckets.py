"""Canonical padded sizes: a song's padded console depends on that song alone.

A console padded to more tracks or groups renders the same mix (padding is
exact zeros), but not the same float rounding: the sums over tracks and
groups and the gradients then run over other sizes, and Adam amplifies the
rounding into other decisions. So ``search``, ``search_batch`` and
``collect`` pad every song to its *bucket*, a function of its own track and
group counts: the smallest size of the ladder ``1, 2, 3, 4, 6, 8, 12, 16,
24, 32, ...`` (powers of two and three times powers of two) that holds them,
less than half more than the song needs (5 tracks -> 6, 7 -> 8, 9 -> 12,
17 -> 24).
Songs of different buckets are never searched in one compiled call.

The length is not part of the bucket: every song crops and chunks within its
own length, so the samples it is padded to change nothing (``collect`` pads
lengths to multiples of ``bucket_seconds`` only to share compiled programs).
"""

from __future__ import annotations


def padded_count(n: int) -> int:
  """The smallest ladder size ``2^k`` or ``3 · 2^k`` that is at least ``n`` (n >= 1)."""
  n = max(int(n), 1)
  power = 1 << (n - 1).bit_length()  # the power of two at or above n
  three = 3 * power // 4  # the ladder step below it (when an integer above n's half)
  return three if power >= 4 and three >= n else power


def song_bucket(n_tracks: int, n_groups: int, config) -> tuple[int, int]:
  """``(max_tracks, max_groups)`` a song is searched at.

  ``config.max_tracks`` / ``max_groups`` when set (the same for every song),
  else the ladder sizes of the song's own counts.
  """
  return (config.max_tracks or padded_count(n_tracks),
          config.max_groups or padded_count(n_groups))
