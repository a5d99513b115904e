"""Discovery of local model servers and supervision of the ones Steward runs."""
