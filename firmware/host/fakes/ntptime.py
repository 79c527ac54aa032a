# Fake of MicroPython's `ntptime`: settime() succeeds unless told to fail.
host = "pool.ntp.org"
calls = 0
fail = 0  # number of next calls that raise OSError (ETIMEDOUT)


def settime():
    global calls, fail
    calls += 1
    if fail > 0:
        fail -= 1
        raise OSError(116)
