# Fake of micropython-lib's umqtt.simple with an in-memory broker, BROKER, that tests script:
# queue incoming messages, make connects fail, or cut the link. Like the real connect(), a
# client given an SSLContext wraps its socket with server_hostname=server (SNI).


class Broker:
    def __init__(self):
        self.reset()

    def reset(self):
        self.clients = []
        self.published = []  # (topic, payload) the device sent
        self.inbox = []  # (topic, payload) waiting for the device
        self.fail_connects = 0
        self.down = False
        self.connects = 0
        self.pings = 0

    def send(self, topic, payload):
        if type(topic) is str:
            topic = topic.encode()
        if type(payload) is str:
            payload = payload.encode()
        self.inbox.append((topic, payload))

    def sent(self, topic):
        return [p for (t, p) in self.published if t == topic]


BROKER = Broker()


class MQTTException(Exception):
    pass


class _Sock:
    def close(self):
        pass


class MQTTClient:
    def __init__(
        self, client_id, server, port=0, user=None, password=None, keepalive=0, ssl=None
    ):
        self.client_id = client_id
        self.server = server
        self.port = port
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.ssl = ssl
        self.cb = None
        self.lw_topic = None
        self.lw_msg = None
        self.lw_qos = 0
        self.lw_retain = False
        self.subscriptions = []
        self.sock = None
        BROKER.clients.append(self)

    def set_callback(self, f):
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self.lw_topic = topic
        self.lw_msg = msg
        self.lw_retain = retain
        self.lw_qos = qos

    def connect(self, clean_session=True, timeout=None):
        BROKER.connects += 1
        if BROKER.fail_connects > 0 or BROKER.down:
            if BROKER.fail_connects > 0:
                BROKER.fail_connects -= 1
            raise OSError(113)  # EHOSTUNREACH
        self.sock = _Sock()
        if self.ssl:
            self.sock = self.ssl.wrap_socket(self.sock, server_hostname=self.server)
        return False

    def disconnect(self):
        self.sock = None

    def ping(self):
        if BROKER.down:
            raise OSError(104)
        BROKER.pings += 1

    def publish(self, topic, msg, retain=False, qos=0):
        if BROKER.down:
            raise OSError(104)  # ECONNRESET
        if type(topic) is bytes:
            topic = topic.decode()
        if type(msg) is bytes:
            msg = msg.decode()
        BROKER.published.append((topic, msg))

    def subscribe(self, topic, qos=0):
        if BROKER.down:
            raise OSError(104)
        self.subscriptions.append((topic, qos))

    def wait_msg(self):
        if BROKER.down:
            raise OSError(-1)
        if not BROKER.inbox:
            return None
        topic, msg = BROKER.inbox.pop(0)
        self.cb(topic, msg)
        return None

    def check_msg(self):
        return self.wait_msg()
