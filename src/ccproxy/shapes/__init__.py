"""Request shaping: captured request envelopes (`.mflow` shapes) replayed around new content.

store.py (files, the library the hook reads), merge.py and apply.py (pure stamping),
sanitize.py (what never stays in a shape), capture.py (`shapes save`), audit.py.
"""
