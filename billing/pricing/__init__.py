"""The pricing core: pure Python (no Django), see docs/pricing.md."""
