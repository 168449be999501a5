"""``python -m inlier`` is the ``inlier`` command."""

from inlier.cli import main

main()
