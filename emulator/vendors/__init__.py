"""The emulated vendor APIs: one package per vendor, each exposing one ``VENDOR``
(core/vendor.py). ``builtin.py`` registers them; importing this package registers nothing, so
a vendor module can be imported on its own."""
