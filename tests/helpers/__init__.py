"""Helpers the test folders share, importable from any of them as
`tests.helpers.<module>` (tests/ is a package, so pytest puts the repository
root on sys.path). Fixtures that wrap them live in tests/conftest.py."""
