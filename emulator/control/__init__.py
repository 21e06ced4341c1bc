"""The ``/_emulator`` control plane: its own JSON, never a vendor envelope."""
