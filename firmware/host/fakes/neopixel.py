# Fake of MicroPython's `neopixel`: the same buffer layout (bpp bytes a pixel, in the strip's
# byte order), and write() only counts, so it allocates nothing either.


class NeoPixel:
    ORDER = (1, 0, 2, 3)

    def __init__(self, pin, n, bpp=3, timing=1):
        self.pin = pin
        self.n = n
        self.bpp = bpp
        self.buf = bytearray(n * bpp)
        self.writes = 0

    def __len__(self):
        return self.n

    def write(self):
        self.writes += 1
