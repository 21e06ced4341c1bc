"""iot-emulator: an offline emulator of five documented IoT-platform HTTP APIs."""

__version__ = "0.1.0"

__all__ = ["__version__"]
