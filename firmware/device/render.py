# The frame pipeline: effect -> master brightness -> fade -> identify overlay -> gamma ->
# power limiter -> strip buffer.
#
# frame() runs 40+ times a second next to the network code, so it allocates nothing: every
# buffer is made once in __init__ and all math is on small ints (see effects.py).
import effects
import power
from clock import ticks_diff

# Gamma 2.8 (perceived brightness; WLED's and ESPHome's default); index 0 stays 0 so "off"
# is really off.
GAMMA = bytes(int((i / 255) ** 2.8 * 255 + 0.5) for i in range(256))

# The phase is a 22-bit accumulator; effects see its top 8 bits. step(speed) sets how fast
# it turns: about 262 s a cycle at speed 0, 4 s at 128 and 1 s at 255.
PHASE_MASK = (1 << 22) - 1
IDENTIFY_MS = 300  # identify: three 300 ms flashes with 300 ms gaps, then restore
IDENTIFY_BLINKS = 3


def phase_step(speed):
    return 16 + (speed * speed >> 4)


class Renderer:
    def __init__(self, n, strip, max_ma=0, order=(1, 0, 2), ma_channel=None, idle_ma=None):
        self.n = n
        self.strip = strip  # NeoPixel-like: .buf bytearray(n*3) and .write()
        self.o_r = order[0]  # WS2813 takes GRB: red is byte 1, green byte 0, blue byte 2
        self.o_g = order[1]
        self.o_b = order[2]
        self.max_ma = max_ma
        ma = power.MA_CHANNEL if ma_channel is None else ma_channel
        self.ma_r = ma
        self.ma_g = ma
        self.ma_b = ma
        self.idle_ma = power.IDLE_MA if idle_ma is None else idle_ma
        self.fx = bytearray(n * 3)  # effect output
        self.cur = bytearray(n * 3)  # what is shown, before gamma (fades start from here)
        self.src = bytearray(n * 3)  # snapshot of cur when a fade starts
        self.aux = bytearray(n)  # per-pixel effect memory
        self.level = 0  # target master level 0..255 (0 when off)
        self.r = 0
        self.g = 0
        self.b = 0
        self.fn = effects.solid
        self.speed = 128
        self.step = phase_step(128)
        self.phase = 0
        self.last = 0
        self.started = False
        self.fade_start = 0
        self.fade_ms = 0
        self.id_start = 0
        self.identifying = False
        self.power_ma = 0
        self.frames = 0

    def set(self, on, brightness, r, g, b, effect, speed, transition_ms, now):
        """Aim at a new look; the change fades in over transition_ms from what is shown."""
        i = effects.index(effect)
        self.fn = effects.FUNCTIONS[i if i >= 0 else 0]
        self.level = brightness if on else 0
        self.r = r
        self.g = g
        self.b = b
        self.speed = speed
        self.step = phase_step(speed)
        self.src[:] = self.cur
        self.fade_ms = transition_ms if self.started else 0
        self.fade_start = now

    def identify(self, now):
        self.identifying = True
        self.id_start = now

    def fading(self, now):
        return self.fade_ms > 0 and ticks_diff(now, self.fade_start) < self.fade_ms

    def frame(self, now):
        n = self.n
        n3 = n * 3
        if not self.started:
            self.started = True
            self.last = now
        dt = ticks_diff(now, self.last)
        if dt < 0:
            dt = 0
        elif dt > 1000:
            dt = 1000
        self.last = now
        self.phase = (self.phase + dt * self.step) & PHASE_MASK
        fx = self.fx
        cur = self.cur
        self.fn(fx, self.aux, n, self.r, self.g, self.b, self.phase >> 14, dt, self.speed)

        lvl = self.level + 1
        k = 256
        if self.fade_ms > 0:
            el = ticks_diff(now, self.fade_start)
            if el < self.fade_ms:
                k = (el << 8) // self.fade_ms
                if k < 0:
                    k = 0
            else:
                self.fade_ms = 0

        # One pass over the pixels: brightness (and fade) into cur, gamma into the strip
        # buffer, channel sums for the power estimate: two fewer loops than separate stages.
        out = self.strip.buf
        o_r = self.o_r
        o_g = self.o_g
        o_b = self.o_b
        gamma = GAMMA
        sr = 0
        sg = 0
        sb = 0
        if k >= 256:
            for j in range(0, n3, 3):
                v = fx[j] * lvl >> 8
                cur[j] = v
                v = gamma[v]
                out[j + o_r] = v
                sr += v
                v = fx[j + 1] * lvl >> 8
                cur[j + 1] = v
                v = gamma[v]
                out[j + o_g] = v
                sg += v
                v = fx[j + 2] * lvl >> 8
                cur[j + 2] = v
                v = gamma[v]
                out[j + o_b] = v
                sb += v
        else:
            src = self.src
            for j in range(0, n3, 3):
                s = src[j]
                v = s + (((fx[j] * lvl >> 8) - s) * k >> 8)
                cur[j] = v
                v = gamma[v]
                out[j + o_r] = v
                sr += v
                s = src[j + 1]
                v = s + (((fx[j + 1] * lvl >> 8) - s) * k >> 8)
                cur[j + 1] = v
                v = gamma[v]
                out[j + o_g] = v
                sg += v
                s = src[j + 2]
                v = s + (((fx[j + 2] * lvl >> 8) - s) * k >> 8)
                cur[j + 2] = v
                v = gamma[v]
                out[j + o_b] = v
                sb += v

        if self.identifying:
            el = ticks_diff(now, self.id_start)
            if el < 0 or el >= IDENTIFY_MS * 2 * IDENTIFY_BLINKS:
                self.identifying = False
            else:
                # Drawn over the strip only: cur keeps the look that comes back afterwards.
                v = 255 if (el // IDENTIFY_MS) % 2 == 0 else 0
                for j in range(n3):
                    out[j] = v
                sr = v * n
                sg = sr
                sb = sr
        ma = power.current(sr, sg, sb, n, self.ma_r, self.ma_g, self.ma_b, self.idle_ma)
        self.power_ma = power.limit(
            out, n, o_r, o_g, o_b, self.ma_r, self.ma_g, self.ma_b, self.idle_ma, self.max_ma, ma
        )
        self.strip.write()
        self.frames += 1

    def pixel(self, i):
        """(r, g, b) as sent to LED i, after gamma and limiting (allocates: tests and sim only)."""
        buf = self.strip.buf
        j = i * 3
        return (buf[j + self.o_r], buf[j + self.o_g], buf[j + self.o_b])
