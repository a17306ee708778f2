"""The core: what is on disk (source), what to run (plan), what the database says
(history), and running it (runner). Knows dialects only through dialects/base.py."""
