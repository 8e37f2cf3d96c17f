"""`ccproxy replay`: recorded flows served back as a deterministic fake provider."""
