# Boot entry on the ESP32 (official MicroPython build, v1.22 or newer). The light state comes
# back from flash inside board.make(), before WiFi or MQTT are touched.
import socket
import ssl
import time

import board
import machine
import neopixel
import network
import ntptime


def main():
    device = board.make("", machine, neopixel, network, socket, ntptime, ssl)
    device.run()


try:
    main()
except KeyboardInterrupt:
    raise  # Ctrl-C on the serial console gives the REPL back
except Exception as e:
    # Nothing may leave the light dead: log, give the serial console a moment, start over.
    print("fatal:", repr(e))
    time.sleep_ms(2000)
    machine.reset()
