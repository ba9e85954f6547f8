"""The test suite, a package so that its helpers (``tests.fuzz_harness``,
``tests.reliability_cases``) import by name, from the repository's root."""
