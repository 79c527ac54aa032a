# Fake of the `socket` module for the setup portal: a listening socket whose accept() hands
# out queued fake connections (tests queue raw HTTP requests), else EAGAIN like a
# non-blocking socket.
SOL_SOCKET = 1
SO_REUSEADDR = 4
pending = []  # raw requests (bytes) waiting to be accepted
answered = []  # raw responses (bytes), in order
servers = []


class Conn:
    def __init__(self, request):
        self.request = request
        self.out = b""

    def settimeout(self, t):
        pass

    def recv(self, n):
        chunk = self.request[:n]
        self.request = self.request[n:]
        return chunk

    def send(self, data):
        self.out += data
        return len(data)

    def close(self):
        answered.append(self.out)


class socket:
    def __init__(self, *args):
        self.bound = None
        self.closed = False
        servers.append(self)

    def setsockopt(self, *args):
        pass

    def bind(self, addr):
        self.bound = addr

    def listen(self, n):
        pass

    def setblocking(self, flag):
        pass

    def accept(self):
        if not pending:
            raise OSError(11)
        return Conn(pending.pop(0)), ("192.168.4.2", 50000)

    def close(self):
        self.closed = True


lookups = []  # hosts getaddrinfo was asked for
ADDRESSES = {}  # host -> IPv4 address string


def getaddrinfo(host, port, *args):
    lookups.append(host)
    if host not in ADDRESSES:
        raise OSError(-202)  # the ESP32 port's "host not found"
    return [(2, 1, 0, "", (ADDRESSES[host], port))]
