"""Readers and writers: points, vectors, rasters, all written atomically."""
