"""The pieces of the realistic song set; ``benchmarks/make_songs.py`` is the command that makes it."""
