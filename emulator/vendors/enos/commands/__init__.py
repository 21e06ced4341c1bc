"""EnOS downlink commands: Invoke Service and Set Measurement Point (ENOS-DEVICES.md §4)."""
