"""The dashboard: watch and drive the emulator in a browser (``/_emulator/ui``)."""

from emulator.ui.routes import router

__all__ = ["router"]
