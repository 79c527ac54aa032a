"""Simulated lights: the real firmware modules (firmware/device) on CPython with shims for the
ESP32 hardware. `python -m firmware.sim --help`; in-process use: `firmware.sim.fleet`."""
