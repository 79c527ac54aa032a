# WiFi manager: join the strongest known network from /wifi.dat; when none answers, open the
# access point "SmartLight-<last 4 of thing>" with a small setup page that lists the networks
# in range and stores the chosen one, while still retrying the known networks.
#
# poll() never blocks for long (a scan is the longest step, about 2 s on an ESP32, and only
# runs while disconnected), so the frame loop keeps the LEDs and the watchdog serviced.
# /wifi.dat holds one "ssid;password" a line, the format of the classic MicroPython wifimgr.
from clock import ticks_add, ticks_diff

JOIN_MS = 12000  # an ESP32 association + DHCP normally takes 2-6 s
RETRY_MS = 15000  # between scans while no known network answers
MAX_REQUEST = 2048


def parse_wifi_dat(text):
    nets = {}
    for line in text.split("\n"):
        line = line.strip("\r")
        if ";" in line:
            ssid, pw = line.split(";", 1)
            if ssid:
                nets[ssid] = pw
    return nets


def format_wifi_dat(nets):
    out = ""
    for ssid in nets:
        out += ssid + ";" + nets[ssid] + "\n"
    return out


def url_decode(s):
    s = s.replace("+", " ")
    out = bytearray()
    i = 0
    b = s.encode()
    while i < len(b):
        c = b[i]
        if c == 37 and i + 2 < len(b):  # "%XX"
            try:
                out.append(int(b[i + 1 : i + 3], 16))
                i += 3
                continue
            except ValueError:
                pass
        out.append(c)
        i += 1
    return out.decode()


def parse_form(body):
    form = {}
    for pair in body.split("&"):
        if "=" in pair:
            k, v = pair.split("=", 1)
            form[url_decode(k)] = url_decode(v)
    return form


def html_escape(s):
    return (
        s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def best_known(scan, known):
    """The known SSID with the strongest signal in a WLAN.scan() result, or None."""
    best = None
    best_rssi = -1000
    for net in scan:
        try:
            ssid = net[0].decode()
        except Exception:
            continue
        if ssid in known and net[3] > best_rssi:
            best = ssid
            best_rssi = net[3]
    return best


def page(ssids, message="", serial=None, claim_code=None):
    ident = ""
    if serial:
        ident += "<p>Serial <b>" + html_escape(serial) + "</b></p>"
    if claim_code:
        ident += (
            "<p>Claim code <b>" + html_escape(claim_code) + "</b>: add the light to your "
            "home with it</p>"
        )
    opts = ""
    for ssid in ssids:
        e = html_escape(ssid)
        opts += '<option value="' + e + '">' + e + "</option>"
    return (
        "<!doctype html><html><head><meta name=viewport content='width=device-width'>"
        "<title>Smart Light setup</title></head><body><h1>Smart Light WiFi</h1>"
        + ident
        + ("<p>" + html_escape(message) + "</p>" if message else "")
        + '<form method="post" action="/save"><p><label>Network <select name="ssid">'
        + opts
        + '</select></label></p><p><label>Password <input name="password" type="password">'
        "</label></p><p><button>Save and connect</button></p></form></body></html>"
    )


class WifiManager:
    def __init__(
        self, network, socket, root, thing, log, ap_port=80, ap_password=None, serial=None,
        claim_code=None,
    ):
        self.network = network
        self.ap_password = ap_password
        self.serial = serial
        self.claim_code = claim_code
        self.socket = socket
        self.root = root
        self.log = log
        self.ap_name = "SmartLight-" + thing[-4:]
        self.ap_port = ap_port
        self.sta = network.WLAN(network.STA_IF)
        self.sta.active(True)
        self.ap = None
        self.server = None
        self.known = self.load()
        self.joining = None
        self.join_start = 0
        self.next_try = None
        self.seen = []  # SSIDs of the latest scan, for the setup page

    def path(self):
        return self.root + "/wifi.dat" if self.root else "/wifi.dat"

    def load(self):
        try:
            with open(self.path()) as f:
                return parse_wifi_dat(f.read())
        except OSError:
            return {}

    def remember(self, ssid, password):
        self.known[ssid] = password
        with open(self.path(), "w") as f:
            f.write(format_wifi_dat(self.known))

    def portal_open(self):
        return self.ap is not None

    def page(self, message=""):
        return page(self.seen, message, self.serial, self.claim_code)

    def isconnected(self):
        return self.sta.isconnected()

    def rssi(self):
        try:
            return self.sta.status("rssi")
        except Exception:
            return 0

    def poll(self, now):
        """Advance the state machine; True while the station is connected."""
        if self.sta.isconnected():
            if self.joining is not None:
                self.log("wifi: joined", self.joining)
                self.joining = None
            if self.ap is not None:
                self.close_portal()
            return True
        if self.server is not None:
            self.serve_once()
        if self.joining is not None:
            if ticks_diff(now, self.join_start) < JOIN_MS:
                return False
            # A known network in range that does not let us in (changed password, router
            # still booting) counts as no answer: open the portal, keep retrying.
            self.log("wifi: no answer from", self.joining)
            self.joining = None
            if self.ap is None:
                self.open_portal()
        if self.next_try is not None and ticks_diff(now, self.next_try) < 0:
            return False
        self.next_try = ticks_add(now, RETRY_MS)
        try:
            scan = self.sta.scan()
        except OSError:
            scan = []
        seen = []
        for net in scan:
            try:
                seen.append(net[0].decode())
            except Exception:
                pass
        self.seen = seen
        ssid = best_known(scan, self.known)
        if ssid is not None:
            self.log("wifi: joining", ssid)
            # ESP-IDF keeps retrying a failed join and refuses a new connect() meanwhile
            # ("Wifi Internal Error", micropython/micropython#17661): stop it first.
            try:
                self.sta.disconnect()
            except OSError:
                pass
            self.sta.connect(ssid, self.known[ssid])
            self.joining = ssid
            self.join_start = now
        elif self.ap is None:
            self.open_portal()
        return False

    def open_portal(self):
        self.log("wifi: no known network, access point", self.ap_name)
        ap = self.network.WLAN(self.network.AP_IF)
        ap.active(True)
        if self.ap_password and len(self.ap_password) >= 8:
            # WPA2 needs 8..63 characters; the password is printed on the light's label.
            ap.config(
                essid=self.ap_name,
                password=self.ap_password,
                authmode=self.network.AUTH_WPA2_PSK,
            )
        else:
            self.log("wifi: no ap_password (8+ characters) in config.json: open access point")
            ap.config(essid=self.ap_name)
        self.ap = ap
        s = self.socket.socket()
        s.setsockopt(self.socket.SOL_SOCKET, self.socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", self.ap_port))
        s.listen(2)
        s.setblocking(False)
        self.server = s

    def close_portal(self):
        if self.server is not None:
            try:
                self.server.close()
            except OSError:
                pass
            self.server = None
        if self.ap is not None:
            self.ap.active(False)
            self.ap = None

    def serve_once(self):
        server = self.server
        if server is None:
            return False
        try:
            conn, _ = server.accept()
        except OSError:
            return False  # nobody waiting (EAGAIN)
        try:
            conn.settimeout(2)
            self.answer(conn)
        except Exception as e:
            self.log("wifi: setup page error", repr(e))
        finally:
            conn.close()
        return True

    def answer(self, conn):
        req = b""
        while b"\r\n\r\n" not in req and len(req) < MAX_REQUEST:
            chunk = conn.recv(512)
            if not chunk:
                break
            req += chunk
        head, _, body = req.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        parts = lines[0].split(" ")
        method = parts[0] if parts else ""
        target = parts[1] if len(parts) > 1 else "/"
        length = 0
        for line in lines[1:]:
            if line.lower().startswith("content-length:"):
                try:
                    length = int(line.split(":", 1)[1].strip())
                except ValueError:
                    length = 0
        length = min(length, MAX_REQUEST)
        while len(body) < length:
            chunk = conn.recv(512)
            if not chunk:
                break
            body += chunk
        if method == "POST" and target == "/save":
            form = parse_form(body.decode())
            ssid = form.get("ssid", "")
            if not ssid or len(ssid) > 32 or ";" in ssid or "\n" in ssid:
                self.respond(conn, "400 Bad Request", self.page("Pick a network."))
                return
            self.remember(ssid, form.get("password", ""))
            self.next_try = None  # try it right away
            self.respond(conn, "200 OK", self.page("Saved. Connecting to " + ssid + "."))
        elif method == "GET":
            self.respond(conn, "200 OK", self.page())
        else:
            self.respond(conn, "405 Method Not Allowed", self.page())

    def respond(self, conn, status, html):
        data = html.encode()
        conn.send(
            (
                "HTTP/1.0 " + status + "\r\nContent-Type: text/html; charset=utf-8\r\n"
                "Content-Length: " + str(len(data)) + "\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        conn.send(data)
