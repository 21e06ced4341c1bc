"""EnOS devices over MQTT (ENOS-DEVICES.md): an embedded broker in the emulator process.

A device logs in with the secrets the HTTP APIs hand out (secure mode 2, deviceSecret; secure
mode 3, the product's productSecret, answered by ``thing.activate.info``), and its connection
drives the same online/offline path as the control plane. Its uplink requests are answered on
their ``_reply`` topics; Invoke Service and Set Measurement Point reach it as tickets of the
command engine.

- :mod:`.login`: the CONNECT credentials, checked as the official SDK signs them;
- :mod:`.protocol`: topics and payloads; :mod:`.errors`: the documented return codes;
- :mod:`.uplink`: what the platform answers to each request topic;
- :mod:`.operations`: the login and each request topic as operations (journal, faults,
  coverage and conformance reports);
- :mod:`.store`: the device rows behind a login, and what devices report;
- :mod:`.broker`: the embedded broker (amqtt) and its plugins;
- :mod:`.listener`: the platform behind them (and the faults), started with the app.
"""
