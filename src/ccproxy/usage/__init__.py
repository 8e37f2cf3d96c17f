"""Token and cost reports over the flow store's usage columns (`ccproxy usage`)."""
