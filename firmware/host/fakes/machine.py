# Fake of MicroPython's `machine` for host tests: records what the firmware asked for.
resets = 0
wdts = []


class Pin:
    OUT = 1
    IN = 0

    def __init__(self, id, mode=-1, *args, **kwargs):
        self.id = id
        self.mode = mode


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        wdts.append(self)

    def feed(self):
        self.feeds += 1


def reset():
    global resets
    resets += 1


def unique_id():
    return b"\x24\x6f\x28\x01\x02\x03"
