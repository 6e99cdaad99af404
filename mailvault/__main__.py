"""`python -m mailvault` runs the command line."""

from mailvault.cli import main

main()
