# Fake of the `ssl` module of the official ESP32 build (micropython-lib python-stdlib/ssl over
# the built-in `tls`): a context reads its certificate files by name exactly as that one does,
# and wrap_socket() records the server name the handshake would send as SNI. No handshake.
PROTOCOL_TLS_CLIENT = 0
PROTOCOL_TLS_SERVER = 1
CERT_NONE = 0
CERT_OPTIONAL = 1
CERT_REQUIRED = 2
contexts = []  # every SSLContext made, oldest first


def _read(name):
    with open(name, "rb") as f:  # a missing file raises OSError (ENOENT), as on the board
        return f.read()


class SSLContext:
    def __init__(self, protocol):
        self.protocol = protocol
        self.verify_mode = CERT_NONE  # the real wrapper's default, not CPython's
        self.cadata = None
        self.cert = None
        self.key = None
        self.server_hostnames = []  # one per wrap_socket(), i.e. per TLS connection
        contexts.append(self)

    def load_cert_chain(self, certfile, keyfile):
        self.cert = _read(certfile) if type(certfile) is str else certfile
        self.key = _read(keyfile) if type(keyfile) is str else keyfile

    def load_verify_locations(self, cafile=None, cadata=None):
        self.cadata = _read(cafile) if cafile else cadata

    def wrap_socket(
        self, sock, server_side=False, do_handshake_on_connect=True, server_hostname=None
    ):
        self.server_hostnames.append(server_hostname)
        return sock
