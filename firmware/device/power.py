# Power limiter: estimate the current a frame draws and scale it under the budget.
#
# Model (WS2813 datasheet, the same one WLED's ABL uses): each colour channel draws about
# `ma_channel` mA at full duty, linear in its PWM value, plus a quiescent current per LED that
# flows even when dark. The estimate is taken on the gamma-corrected bytes sent to the strip,
# because that is the duty cycle the LEDs really run at.

MA_CHANNEL = 20  # mA per channel at 255 (WS2813: 12 mA typical, 20 mA worst case we budget for)
IDLE_MA = 1  # mA per LED when dark


def current(sr, sg, sb, n, ma_r, ma_g, ma_b, idle_ma):
    """mA for n LEDs whose red/green/blue duty values sum to sr/sg/sb."""
    return (sr * ma_r + sg * ma_g + sb * ma_b) // 255 + idle_ma * n


def estimate(buf, n, o_r, o_g, o_b, ma_r, ma_g, ma_b, idle_ma):
    """Current in mA for the first n pixels of a strip buffer (channel offsets o_r/o_g/o_b)."""
    sr = 0
    sg = 0
    sb = 0
    for j in range(0, n * 3, 3):
        sr += buf[j + o_r]
        sg += buf[j + o_g]
        sb += buf[j + o_b]
    return current(sr, sg, sb, n, ma_r, ma_g, ma_b, idle_ma)


def limit(buf, n, o_r, o_g, o_b, ma_r, ma_g, ma_b, idle_ma, max_ma, ma=-1):
    """Scale the frame in place so its estimate fits max_ma; return the estimate after it.

    `ma` is the frame's estimate when the caller already has it (render.py sums the channels
    while it writes them). The quiescent part cannot be dimmed away, so only the LED part is
    scaled, by an 8.8 fixed-point factor rounded down to stay at or under the budget.
    """
    if ma < 0:
        ma = estimate(buf, n, o_r, o_g, o_b, ma_r, ma_g, ma_b, idle_ma)
    if max_ma <= 0 or ma <= max_ma:
        return ma
    idle = idle_ma * n
    lit = ma - idle
    room = max_ma - idle
    if room < 0:
        room = 0
    scale = (room << 8) // lit
    for j in range(n * 3):
        buf[j] = buf[j] * scale >> 8
    return estimate(buf, n, o_r, o_g, o_b, ma_r, ma_g, ma_b, idle_ma)
