"""benchmarks/memory.py's measurement at tiny sizes (in this process, so the suite's
persistent compile cache serves its programs after the first run)."""

import numpy as np

from benchmarks import memory


def test_a_bounded_cache_measures_the_losses_of_the_full_cache():
  rows = [memory.measure_one(2, 1, 0.1, 8000, cache_bytes, requests=2)
          for cache_bytes in (1, None)]
  bounded, full = rows
  assert bounded["chunks"] == full["chunks"] == full["cached_chunks"] == 3
  assert bounded["cached_chunks"] == 1 and full["cache_mb"] is None
  np.testing.assert_allclose(bounded["losses"], full["losses"], rtol=1e-5)
  for row in rows:
    assert len(row["trial_s"]) == 2 and row["peak_rss_mb"] >= row["setup_rss_mb"] > 0
    assert row["audio_mb"] > 0 and row["peak_minus_audio_mb"] == row["peak_rss_mb"] - row["audio_mb"]
