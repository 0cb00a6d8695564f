"""Batch reading of photo archives: one row per photo, in Parquet or JSONL, on this machine or a cluster.

    inputs   what to read: folders (recursive), photo files, list files of paths or file:// URIs
    rows     the row (frozen dataclasses), its one Arrow schema, and reading one photo into a row
    writers  Parquet (a folder of part files) and JSONL, both resumable
    engines  where the reading runs: a local process pool or a Dask cluster; same rows either way
    progress rate and ETA on stderr
    cli      `python -m alpr batch ...` (register + run)
    view     what the Batch page shows, without Streamlit

See docs/batch.md.
"""
