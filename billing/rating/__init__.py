"""The rating core: which billing rule applies to a session (`match`) and what each engine's
line is worth (`amounts`). Pure Python like `billing.pricing` (no Django, no apps): the
services of `apps.rating` gather the facts and write the lines (ADR 0027)."""
