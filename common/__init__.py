"""What every layer shares, below all of them: feature names, config errors, storage."""
