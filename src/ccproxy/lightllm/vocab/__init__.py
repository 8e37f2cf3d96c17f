"""One vocabulary module per wire: finish/stop reasons, usage fields and error statuses, used
by the buffered (`lightllm/<wire>.py`) and the streaming (`lightllm/stream/<wire>.py`) paths
and by `errors.py`, so the two paths cannot disagree."""
