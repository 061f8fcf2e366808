"""No models yet: invoicing arrives with its own issue."""
