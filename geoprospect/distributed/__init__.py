"""Window prediction on dask (DESIGN.md decision 11).

- :mod:`.predict`: window prediction per window block (explicit halos) on the workers.
- :mod:`.engine`: one object that runs a stage locally or on the cluster, as configured.

Connecting to a cluster and building the stack there: :mod:`geoprospect.stack.executors`.
Workers and the client must see the same file system for prediction (the stack file): a
shared disk on a SLURM cluster, or a shared volume on Kubernetes (see docs/scale.md).
"""
