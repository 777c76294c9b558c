"""Delays (and jitters) the UDP a lab host sends and receives, for test/support/udp-delay.ts.

Runs in the lab's router. nftables hands this process every UDP datagram the host sends
(TPROXY: it arrives here with its original destination); each is held for delay +/- jitter
ms, then sent on from a socket of the router's own. Answers to that socket are held the
same way and sent back to the host from the original destination's address (a
transparent socket), so to the host the path only got slower. Order is kept within each
direction of a flow, as on a real link: a datagram never overtakes the one before it.

usage: udp-delay.py PORT DELAY_MS JITTER_MS   (prints "ready" once listening)
"""

import heapq
import random
import selectors
import socket
import struct
import sys
import time

SOL_IP = 0
IP_TRANSPARENT = 19
IP_RECVORIGDSTADDR = 20
IP_ORIGDSTADDR = 20
SO_MARK = 36
# What this relay sends to the host carries this mark, for udp-delay.ts's loss rule.
TO_HOST_MARK = 0x4D

port, delay, jitter = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])

listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
listener.setsockopt(SOL_IP, IP_TRANSPARENT, 1)
listener.setsockopt(SOL_IP, IP_RECVORIGDSTADDR, 1)
listener.bind(("0.0.0.0", port))

selector = selectors.DefaultSelector()
selector.register(listener, selectors.EVENT_READ, None)

upstream = {}  # (host address, original destination) -> the router's socket for that flow
flows = {}  # the router's socket -> (host address, original destination)
impostors = {}  # original destination -> a transparent socket bound to it
last_due = {}  # (socket, direction) -> when its last datagram leaves
queue = []  # (due, seq, socket to send from, data, to)
seq = 0


def hold(key, sock, data, to):
    global seq
    now = time.monotonic()
    due = max(last_due.get(key, 0.0), now + max(0.0, random.uniform(delay - jitter, delay + jitter)) / 1000)
    last_due[key] = due
    seq += 1
    heapq.heappush(queue, (due, seq, sock, data, to))


def impostor(address):
    sock = impostors.get(address)
    if sock is None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(SOL_IP, IP_TRANSPARENT, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_MARK, TO_HOST_MARK)
        sock.bind(address)
        impostors[address] = sock
    return sock


print("ready", flush=True)
while True:
    timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else None
    for key, _ in selector.select(timeout):
        sock = key.fileobj
        try:
            if sock is listener:
                data, ancillary, _, source = listener.recvmsg(65535, 64)
                target = None
                for level, kind, value in ancillary:
                    if level == SOL_IP and kind == IP_ORIGDSTADDR:
                        port_, raw = struct.unpack_from("!H4s", value, 2)
                        target = (socket.inet_ntoa(raw), port_)
                if target is None:
                    continue
                out = upstream.get((source, target))
                if out is None:
                    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    out.bind(("0.0.0.0", 0))
                    out.setblocking(False)
                    upstream[(source, target)] = out
                    flows[out] = (source, target)
                    selector.register(out, selectors.EVENT_READ, None)
                hold((out, "up"), out, data, target)
            else:
                data, _ = sock.recvfrom(65535)
                source, target = flows[sock]
                hold((sock, "down"), impostor(target), data, source)
        except OSError:
            pass
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        _, _, sock, data, to = heapq.heappop(queue)
        try:
            sock.sendto(data, to)
        except OSError:
            pass
