"""mockstatus: an HTTP server that answers any status code the way a real server would."""

__version__ = "0.1.0"

__all__ = ["__version__"]
