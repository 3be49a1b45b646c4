"""``python -m rewriter``: the command line."""

from rewriter.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
