"""Server-side jobs: the lifecycle transitions that fall due with time (`jobs.lifecycle`) and
the scheduler that runs them inside `domreg serve` (`jobs.scheduler`)."""

from domreg.jobs.lifecycle import run_until

__all__ = ["run_until"]
