# Reconnect delays: exponential growth with jitter, capped (the "equal jitter" scheme of the
# AWS Architecture Blog, "Exponential Backoff And Jitter"): half of the window is fixed so
# attempts never bunch up at zero, half is random so a fleet that lost the broker together
# does not come back in lock-step.


class Backoff:
    def __init__(self, rand, base_ms=1000, cap_ms=30000):
        self.rand = rand  # rand(n) -> int in 0..n-1
        self.base_ms = base_ms
        self.cap_ms = cap_ms
        self.attempts = 0

    def window(self):
        w = self.base_ms
        for _ in range(self.attempts):
            w *= 2
            if w >= self.cap_ms:
                return self.cap_ms
        return w if w < self.cap_ms else self.cap_ms

    def next_ms(self):
        """Delay before the next attempt; each call counts one more failure."""
        w = self.window()
        half = w // 2
        self.attempts += 1
        return half + self.rand(w - half + 1) if w > half else w

    def reset(self):
        self.attempts = 0
