"""Window prediction block by block (DESIGN.md decision 11): :mod:`.predict`.

Blocks of a grid live in :mod:`geoprospect.stack.blocks`; the raster writer in
:mod:`geoprospect.io.rasters`.
"""
