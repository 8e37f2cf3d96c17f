"""ccproxy: capture, steer and translate LLM client traffic."""

__version__ = "2.0.0b1"
