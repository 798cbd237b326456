"""The package version, in a module of its own so that code needing it does not
import the package root (which imports most of resdsl)."""
__version__ = "0.1.0"
