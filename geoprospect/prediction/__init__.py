"""Scoring windows over the whole stack and writing the prospectivity map.

- :mod:`.score`: the one scoring core (:func:`~.score.score_batches`: logits -> float64
  probability and logit margin; :func:`~.score.check_model_input`: the band-count/crop check).
- :mod:`.sources`: window sources feeding it (memory, blocks of a GeoTIFF with a reader
  thread, block regions cut on the device); :mod:`.dask`: one dask task per window block.
- :mod:`.predict`: :func:`~.predict.predict` (picks the source), ``Prediction``, the
  prospectivity GeoTIFF and the window scores.
- :mod:`.fullres`, :mod:`.targets`: the full-resolution blend and target areas.
"""
