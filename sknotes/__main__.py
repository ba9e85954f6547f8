"""``python -m sknotes``: the main demo (see :mod:`sknotes.demo`)."""

from sknotes.demo import main

if __name__ == "__main__":
    main()
