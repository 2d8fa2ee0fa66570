"""`python -m simulator.lm ...` = `llm-market lm ...` (e.g. `python -m simulator.lm zoo build`)."""

from simulator.lm.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
