#!/usr/bin/env python3
"""Write the seed corpora of fuzz_conn (corpus/conn/) and fuzz_conn_msg
(corpus/conn_msg/: the same session over a message link, where every
delivery is one message) from frames built here; see fuzz_conn.c for the
input format. Re-run after changing it:
    python3 tests/fuzz/gen_conn_corpus.py
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "conn")
OUT_MSG = os.path.join(HERE, "corpus", "conn_msg")

HELLO, ERROR, PING, PONG = 0x01, 0x02, 0x03, 0x04
DGRAM, DATA = 0x10, 0x11
JOIN, LEAVE, EXPORT, UNEXPORT, FORWARDER, EMITTERS = range(0x20, 0x26)

# mode byte: bits 0-1 side/framing, bits 4-7 queue = 256 << n
DGRAM_ACCEPT, AUTO_SINK, AUTO_SOURCE, DGRAM_CONNECT = 0, 1, 2, 3
Q64K = 8 << 4     # 65536-byte queue
Q1K = 2 << 4      # 1024-byte queue


def frame(t, body):
    return struct.pack(">IBBH", len(body), t, 0, 0) + body


def hello(version=1, role=1, island=b"north"):
    return frame(HELLO, b"MCFY" + bytes([version, role, 0, 0]) +
                 bytes(range(1, 9)) + bytes([len(island)]) + island)


def ping(tok=42):
    return frame(PING, struct.pack(">Q", tok))


def channel_v4(group=(239, 1, 1, 1), port=5000, source=(0, 0, 0, 0)):
    return bytes([4, 0]) + struct.pack(">H", port) + bytes(group) + \
        bytes(source)


def data_v4(payload=b"x" * 100, seq=7):
    return frame(DATA, struct.pack(">BBHQQ", 1, 0, 40000, 42, seq) +
                 channel_v4() + payload)


def error(text=b"version-mismatch"):
    return frame(ERROR, struct.pack(">H", 1) + text)


def reads(stream, sizes):
    """The stream split into reads of the given sizes (cycled)."""
    out, i, k = b"", 0, 0
    while i < len(stream):
        n = min(sizes[k % len(sizes)], len(stream) - i, 0xe0)
        out += bytes([n - 1]) + stream[i:i + n]
        i += n
        k += 1
    return out


def big_read(stream):
    n = len(stream)
    return bytes([0xe0, (n - 1) >> 8, (n - 1) & 0xff]) + stream


SEEDS = {
    "hello-pings": bytes([DGRAM_ACCEPT | Q64K]) +
    reads(hello() + ping(1) + ping(2) + ping(3), [30, 16, 3, 13]) +
    b"\xea\x32\xea\x32\xe1",
    "hello-pings-auto-sink": bytes([AUTO_SINK | Q64K]) + b"\xeb\x10" +
    reads(hello() + ping(1), [5, 64]) + b"\xeb\x20\xe1",
    "join-export": bytes([DGRAM_ACCEPT | Q64K]) +
    reads(hello() + frame(JOIN, channel_v4()) +
          frame(EXPORT, channel_v4((239, 2, 2, 2))) +
          frame(FORWARDER, channel_v4() + b"\x01") +
          frame(UNEXPORT, channel_v4((239, 2, 2, 2))), [7, 200]) +
    b"\xed\xe1",
    "data": bytes([DGRAM_ACCEPT | Q64K]) +
    big_read(hello() + data_v4() + data_v4(b"y" * 1316, 8)) +
    b"\xec\x40\xe6\xec\x80\xe5\xe1",
    "data-partial-writes": bytes([DGRAM_CONNECT | Q1K]) + b"\xef\x00" +
    b"\xe7\x02" + reads(hello() + data_v4(b"z" * 300), [100]) +
    b"\xeb\x30\xeb\x30\xeb\x30\xe1\xe1\xe5\xe1",
    "error": bytes([DGRAM_ACCEPT | Q64K]) + reads(hello() + error(), [64]),
    "truncated-eof": bytes([DGRAM_ACCEPT | Q64K]) +
    reads(hello() + data_v4()[:50], [80]) + b"\xe3",
    "oversize": bytes([DGRAM_ACCEPT | Q64K]) +
    reads(hello() + struct.pack(">IBBH", 0x10000 + 200, DGRAM, 0, 0),
          [64]),
    "second-hello": bytes([DGRAM_ACCEPT | Q64K]) +
    reads(hello() + ping() + hello(), [200]),
    "hello-v2": bytes([AUTO_SINK | Q64K]) + reads(hello(version=2), [30]),
    "leave-closes": bytes([DGRAM_ACCEPT | Q64K]) +
    reads(hello() + frame(LEAVE, channel_v4()) + ping(), [200]),
    "junk-auto-source": bytes([AUTO_SOURCE | Q64K]) +
    reads(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)), [9, 100]) +
    b"\xe4",
    "junk-datagram": bytes([DGRAM_ACCEPT | Q64K]) +
    reads(b"\xff" * 40, [40]),
    "auto-sink-timeout": bytes([AUTO_SINK | Q1K]) + b"\xeb\x20" * 5 +
    b"\xe9\xeb\x10\xe1",
    "auto-sink-queue-full": bytes([AUTO_SINK | Q1K]) + b"\xeb\x3f" * 4 +
    reads(hello(), [30]) + b"\xe1",
    "connect-refused": bytes([DGRAM_CONNECT | Q64K]) + b"\xef\x01",
    "keepalive-timeout": bytes([DGRAM_ACCEPT | Q64K]) +
    reads(hello(), [30]) + b"\xea\x40" * 4 + b"\xea\xff",
    "write-error": bytes([DGRAM_ACCEPT | Q64K]) + b"\xe6" +
    reads(hello() + ping(), [64]) + b"\xe2",
    "emitters": bytes([DGRAM_ACCEPT | Q64K]) +
    reads(hello() + frame(EMITTERS, bytes([2]) + bytes([4, 0]) +
                          struct.pack(">H", 40000) + bytes(16) +
                          bytes([6, 0]) + struct.pack(">H", 40001) +
                          bytes(16)), [200]),
}


def msgs(*messages):
    """Each message one delivery (op n-1, or 0xe0 HI LO for a long one)."""
    out = b""
    for m in messages:
        out += bytes([len(m) - 1]) + m if len(m) <= 0xe0 else big_read(m)
    return out


def frags(frame_bytes, piece=1400, fid=1, skip=None):
    """frame_bytes as fragment messages (frag.h), leaving out index skip."""
    out, i, k = [], 0, 0
    while i < len(frame_bytes):
        sl = frame_bytes[i:i + piece]
        last = 1 if i + piece >= len(frame_bytes) else 0
        if k != skip:
            out.append(struct.pack(">IBBHIHH", 8 + len(sl), 0x05, last, 0,
                                   fid, k, 0) + sl)
        i += piece
        k += 1
    return out


MSG_SEEDS = {
    "msg-hello-pings": bytes([DGRAM_ACCEPT | Q64K]) +
    msgs(hello(), ping(1), ping(2) + ping(3)) + b"\xea\x32\xea\x32\xe1",
    "msg-data-in-fragments": bytes([DGRAM_ACCEPT | Q64K]) +
    msgs(hello(), *frags(data_v4(b"f" * 4000, 9))) +
    b"\xec\xff\xe6\xec\x40\xe5\xe1\xe7\x00\xec\xff\xe1\xe1",
    "msg-fragment-lost": bytes([DGRAM_ACCEPT | Q64K]) +
    msgs(hello(), *(frags(data_v4(b"g" * 3000), skip=1) +
                   frags(data_v4(b"h" * 2000), fid=2))),
    "msg-bad-fragment": bytes([DGRAM_ACCEPT | Q64K]) +
    msgs(hello(), struct.pack(">IBBHIHH", 4, 0x05, 0, 0, 1, 0, 0)),
    "msg-truncated": bytes([DGRAM_ACCEPT | Q64K]) +
    msgs(hello(), data_v4()[:40]),
    "msg-join-export": bytes([DGRAM_CONNECT | Q64K]) + b"\xef\x00" +
    msgs(hello(), frame(JOIN, channel_v4()),
         frame(EXPORT, channel_v4((239, 2, 2, 2)))) + b"\xed\xe1",
    "msg-raw-auto-source": bytes([AUTO_SOURCE | Q64K]) +
    msgs(b"\x47" * 188 * 7, b"\x47" * 1316, b"x") + b"\xe9",
    "msg-auto-sink-oversize": bytes([AUTO_SINK | Q64K]) +
    b"\xeb\xff\xeb\x10\xe9\xeb\xff\xeb\x20\xe1",
    "msg-keepalive-timeout": bytes([DGRAM_ACCEPT | Q64K]) +
    msgs(hello()) + b"\xea\x40" * 4 + b"\xea\xff",
}


def write(out, seeds):
    os.makedirs(out, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seeds), out))


def main():
    write(OUT, SEEDS)
    write(OUT_MSG, MSG_SEEDS)


if __name__ == "__main__":
    main()
