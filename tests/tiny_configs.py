"""The tiny synthetic run config that several experiment tests start from."""

from __future__ import annotations

from pathlib import Path

FAST = {"max_epochs": 3, "hidden_sizes": [16]}


def tiny_config(cache: Path, **overrides: object) -> dict:
    """Tiny synthetic corpus, features cached under ``cache``, one acted->spontaneous pair,
    source-only and train-on-target with ``FAST`` settings, 3 trials; ``overrides`` replace
    top-level keys."""
    config = {
        "name": "test",
        "output": "run",
        "corpora": {
            "synthetic": {"loader": "synthetic", "path": "corpus", "options": {"preset": "tiny"}}
        },
        "features": {"domain": "elicitation", "jobs": 1, "cache_dir": str(cache)},
        "pairs": [
            {
                "name": "acted->spontaneous",
                "source": "elicitation == 'acted'",
                "target": "elicitation == 'spontaneous'",
            }
        ],
        "methods": {"source_only": dict(FAST), "train_on_target": dict(FAST)},
        "trials": 3,
    }
    config.update(overrides)
    return config
