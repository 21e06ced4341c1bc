"""EnOS connection service v2.1: devices (enos-connect-create-device.md)."""
