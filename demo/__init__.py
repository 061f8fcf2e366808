"""Demo data for the quick start (`make run`). An outer layer: uses the apps' api only."""
