"""
A call participant on aiortc (Debian's python3-aiortc 1.4), a WebRTC stack written
independently of werift and of the browsers, driven by sfu/test/aiortc.test.ts.

The test process speaks the SFU's signaling and relays SDP to this peer over stdin/stdout,
one JSON object per line:

  in:  {"id": 1, "cmd": "publish-offer", "audio": true, "video": true}
       -> {"id": 1, "ok": true, "sdp": "...", "tracks": [{"mid": "0", "kind": "audio"}, ...]}
       {"id": 2, "cmd": "set-answer", "sdp": "..."}         -> {"id": 2, "ok": true}
       {"id": 3, "cmd": "subscribe-offer", "sdp": "..."}    -> {"id": 3, "ok": true, "sdp": answer}
       {"id": 4, "cmd": "stats"} -> {"id": 4, "ok": true, "connections": {...}, "iceRoles": {...}, "tracks": [...]}
       {"id": 5, "cmd": "close"} -> {"id": 5, "ok": true}, then the process exits
  out: {"event": "connection", "pc": "publish" | "subscribe", "state": "connected"}
       {"event": "track", "mid": "2", "kind": "video"}
  A failed command answers {"id": n, "ok": false, "error": "..."}; logs go to stderr.

It publishes a synthetic Opus tone and a synthetic VP8 picture (a moving gradient, so the
encoder has real work), and counts what it receives per m-line: decoded frames (media a
real decoder accepted) and RTP packets (the receiver's inbound-rtp statistics).
"""

import argparse
import asyncio
import fractions
import json
import logging
import math
import sys
import time

import aioice.ice
import av
import numpy
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import AUDIO_PTIME, MediaStreamError, MediaStreamTrack

WIDTH, HEIGHT = 160, 120
SAMPLE_RATE = 48000


class ToneTrack(MediaStreamTrack):
    """A 440 Hz tone in 20 ms frames, paced in real time."""

    kind = "audio"

    def __init__(self):
        super().__init__()
        self._start = None
        self._samples = 0

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        count = int(AUDIO_PTIME * SAMPLE_RATE)
        if self._start is None:
            self._start = time.time()
        else:
            await asyncio.sleep(self._start + self._samples / SAMPLE_RATE - time.time())
        t = (numpy.arange(count) + self._samples) / SAMPLE_RATE
        tone = (numpy.sin(2 * math.pi * 440 * t) * 8000).astype(numpy.int16)
        frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._samples
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._samples += count
        return frame


class GradientTrack(VideoStreamTrack):
    """A gradient that scrolls one pixel per frame, at 30 frames/s."""

    def __init__(self):
        super().__init__()
        row = numpy.arange(WIDTH, dtype=numpy.uint16)
        self._base = numpy.tile(row, (HEIGHT, 1))
        self._n = 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        luma = ((self._base + self._n) % 256).astype(numpy.uint8)
        self._n += 1
        picture = numpy.stack([luma, numpy.flipud(luma), numpy.full_like(luma, 128)], axis=2)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts = pts
        frame.time_base = time_base
        return frame


class Received:
    """What arrived on one m-line of the subscribe connection."""

    def __init__(self, mid, transceiver, track):
        self.mid = mid
        self.kind = track.kind
        self.transceiver = transceiver
        self.frames = 0
        self.width = 0
        self.task = asyncio.ensure_future(self._consume(track))

    async def _consume(self, track):
        try:
            while True:
                frame = await track.recv()
                self.frames += 1
                if self.kind == "video":
                    self.width = frame.width
        except MediaStreamError:
            pass

    async def packets(self):
        report = await self.transceiver.receiver.getStats()
        return sum(s.packetsReceived for s in report.values() if s.type == "inbound-rtp")


class Peer:
    def __init__(self):
        # No STUN server: aiortc would otherwise ask Google's.
        config = RTCConfiguration(iceServers=[])
        self.publish = RTCPeerConnection(config)
        self.subscribe = RTCPeerConnection(config)
        self.received = {}
        for name, pc in (("publish", self.publish), ("subscribe", self.subscribe)):
            self._watch(name, pc)
        self.subscribe.on("track", self._on_track)

    def _watch(self, name, pc):
        @pc.on("connectionstatechange")
        def changed():
            emit({"event": "connection", "pc": name, "state": pc.connectionState})

    def _on_track(self, track):
        transceiver = next(t for t in self.subscribe.getTransceivers() if t.receiver.track is track)
        self.received[transceiver.mid] = Received(transceiver.mid, transceiver, track)
        emit({"event": "track", "mid": transceiver.mid, "kind": track.kind})

    async def publish_offer(self, audio=True, video=True):
        if self.publish.getTransceivers():
            raise ValueError("this peer already publishes")
        if audio:
            self.publish.addTransceiver(ToneTrack(), direction="sendonly")
        if video:
            self.publish.addTransceiver(GradientTrack(), direction="sendonly")
        await self.publish.setLocalDescription(await self.publish.createOffer())
        tracks = [{"mid": t.mid, "kind": t.kind} for t in self.publish.getTransceivers()]
        return {"sdp": self.publish.localDescription.sdp, "tracks": tracks}

    async def set_answer(self, sdp):
        await self.publish.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        return {}

    async def subscribe_offer(self, sdp):
        await self.subscribe.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self.subscribe.setLocalDescription(await self.subscribe.createAnswer())
        return {"sdp": self.subscribe.localDescription.sdp}

    async def stats(self):
        tracks = []
        for r in self.received.values():
            tracks.append(
                {"mid": r.mid, "kind": r.kind, "frames": r.frames, "packets": await r.packets(), "width": r.width}
            )
        connections = {"publish": self.publish.connectionState, "subscribe": self.subscribe.connectionState}
        # The ICE role of each connection's (bundled) transport.
        roles = {
            name: pc.getTransceivers()[0].sender.transport.transport.role if pc.getTransceivers() else None
            for name, pc in (("publish", self.publish), ("subscribe", self.subscribe))
        }
        return {"connections": connections, "iceRoles": roles, "tracks": tracks}

    async def close(self):
        for r in self.received.values():
            r.task.cancel()
        await self.publish.close()
        await self.subscribe.close()
        return {}


def emit(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--host", help="gather this one host address only (e.g. 127.0.0.1)")
    args = parser.parse_args()
    if args.host:
        # aioice gathers every interface but loopback; a test SFU listens on loopback only.
        aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [args.host]

    peer = Peer()
    handlers = {
        "publish-offer": lambda m: peer.publish_offer(m.get("audio", True), m.get("video", True)),
        "set-answer": lambda m: peer.set_answer(m["sdp"]),
        "subscribe-offer": lambda m: peer.subscribe_offer(m["sdp"]),
        "stats": lambda m: peer.stats(),
        "close": lambda m: peer.close(),
    }
    reader = asyncio.StreamReader(limit=1 << 20)
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        message = {}
        try:
            message = json.loads(line)
            handler = handlers.get(message.get("cmd"))
            if handler is None:
                raise ValueError(f"unknown command {message.get('cmd')!r}")
            emit({"id": message.get("id"), "ok": True, **(await handler(message))})
        except Exception as err:  # every failure goes back to the test, which decides
            logging.exception("command failed")
            emit({"id": message.get("id"), "ok": False, "error": repr(err)})
        if message.get("cmd") == "close":
            break
    await peer.close()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(main())
