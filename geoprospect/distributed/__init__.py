"""The block functions of :mod:`geoprospect.blocks` run on dask (DESIGN.md decision 11).

- :mod:`.client`: connect to a ``dask.distributed`` scheduler (or start a local cluster).
- :mod:`.stack`: the evidence stack as a dask-chunked xarray/rioxarray array, written chunk
  by chunk into one tiled GeoTIFF under a distributed lock.
- :mod:`.engine`: one object that runs a stage locally or on the cluster, as configured
  (prediction: :func:`geoprospect.prediction.predict.predict`, one task per window block on dask).

Workers and the client must see the same file system (the output folder): a shared disk
on a SLURM cluster, or a shared volume on Kubernetes (see docs/scale.md).
"""
