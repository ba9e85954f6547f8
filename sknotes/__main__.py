"""``python -m sknotes``: the main demo (see :mod:`sknotes._demo`)."""

from sknotes._demo import main

if __name__ == "__main__":
    main()
