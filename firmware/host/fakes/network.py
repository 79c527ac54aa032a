# Fake of MicroPython's `network` (ESP32): the air holds AIR networks; a station joins one
# when the password matches. Tests change AIR/PASSWORDS to move the device around.
# Like ESP-IDF, a station whose connect() did not succeed keeps trying in the background and
# refuses another connect() until disconnect() ("sta is connecting, return error", raised as
# "Wifi Internal Error": micropython/micropython#17661).
STA_IF = 0
AP_IF = 1
AUTH_OPEN = 0
AUTH_WPA2_PSK = 3

# (ssid, bssid, channel, RSSI, security, hidden) as WLAN.scan() returns them
AIR = []
PASSWORDS = {}
scans = 0


class WLAN:
    def __init__(self, interface=STA_IF):
        self.interface = interface
        self._active = False
        self._ssid = None
        self.config_args = {}
        self.connects = []
        self.connecting = False
        self.refused = 0  # connect() calls refused while still connecting

    def active(self, value=None):
        if value is None:
            return self._active
        self._active = bool(value)
        return self._active

    def scan(self):
        global scans
        scans += 1
        return list(AIR)

    def connect(self, ssid, password=None):
        if self.connecting:
            self.refused += 1
            raise OSError("Wifi Internal Error")
        self.connects.append(ssid)
        self._ssid = None
        for net in AIR:
            if net[0].decode() == ssid and PASSWORDS.get(ssid) == password:
                self._ssid = ssid
        self.connecting = self._ssid is None

    def disconnect(self):
        self._ssid = None
        self.connecting = False

    def isconnected(self):
        if self._ssid is None:
            return False
        for net in AIR:
            if net[0].decode() == self._ssid:
                return True
        return False

    def status(self, param=None):
        if param == "rssi":
            for net in AIR:
                if net[0].decode() == self._ssid:
                    return net[3]
            return 0
        return 1010 if self.isconnected() else 1000

    def config(self, *args, **kwargs):
        for key in kwargs:
            self.config_args[key] = kwargs[key]
        if args:
            return self.config_args.get(args[0])
        return None

    def ifconfig(self, *args):
        return ("192.168.4.1", "255.255.255.0", "192.168.4.1", "8.8.8.8")
