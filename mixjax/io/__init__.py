"""Reading and writing files, above the core: song folders in, results folders out.

====================  ================================================================
``song_folder``       a song folder (plain or MedleyDB layout) read as a ``Song``,
                      and a ``Song`` written as one
``graph_json``        graph.json: write, read, check and re-render a saved graph
``results_folder``    the results folder of a search: which files it holds, whose
                      song it is, when it may be written, writing it
``report_text``       the texts: report.md, losses.csv, the demo's ground-truth table
``plots``             the pictures: graph drawing, processor curves, spectrograms
``folder_lock``       one run at a time in a results folder
``audio``             audio files: ``read_audio`` (any format, resampled),
                      ``write_wav`` (a float WAV, atomically), a file's length
``collection_stats``  the statistics of a collection (``mixjax stats``)
``collection_plots``  their pictures, and ``write_stats`` (every file)
====================  ================================================================

Nothing in the core (processors, console, loss, graph_search) imports these,
nor soundfile, soxr or matplotlib (only these modules do); they import the
core. This file imports nothing, so loading one module (say ``song_folder``)
never loads the plotting code.
"""
