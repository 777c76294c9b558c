/**
 * What a browser negotiates and sends, for bots that should cost a server what a real call
 * costs (issue 15): Chromium offers the RTP header extensions `mid`, `ssrc-audio-level`,
 * `transport-wide-cc` (a sequence number in every packet, answered with transport-wide
 * feedback) and `abs-send-time`, and VP8 with NACK, PLI, FIR, `goog-remb` and
 * `transport-cc`. The answerer (an SFU) keeps what it supports; the bot then behaves as
 * Chromium does with what was negotiated:
 *
 * - sending: werift's sender writes `mid`, the transport-wide sequence number and
 *   abs-send-time into every packet when negotiated (the bot adds the audio level);
 * - receiving with `transport-cc`: werift's receiver sends transport-wide feedback;
 * - receiving with `goog-remb` only (send-side estimation not negotiated): a REMB every
 *   second ({@link REMB_INTERVAL_MS}), as libwebrtc's receive-side estimator does.
 *
 * `BotOptions.feedback: "browser"` selects this; the default (`"plain"`) keeps the SFU's
 * own configuration and sends no REMB, as the bots did before.
 */
import type { PeerConfig, RTCRtpTransceiver } from "werift";
import {
  codecsWith,
  type ConnectionSide,
  extension as ext,
  iceOptions,
  type MediaNetwork,
} from "../media";

/** How often a receiver with only receive-side estimation reports it (libwebrtc: about 1/s). */
export const REMB_INTERVAL_MS = 1_000;
/** The estimate a bot reports: comfortably above what the benchmark sends. */
export const BOT_REMB_BPS = 10_000_000;

/** A full ICE agent's peer configuration offering (or accepting) what Chromium does. */
export function browserPeerConfig(
  network: MediaNetwork,
  side: ConnectionSide,
): Partial<PeerConfig> {
  return {
    ...codecsWith(
      side,
      [{ type: "transport-cc" }],
      [{ type: "goog-remb" }, { type: "transport-cc" }],
    ),
    headerExtensions: {
      audio: [ext.mid(), ext.audioLevel(), ext.transportWideCC()],
      video: [ext.mid(), ext.rid(), ext.absSendTime(), ext.transportWideCC()],
    },
    ...iceOptions(network, "full"),
    bundlePolicy: "max-bundle",
  };
}

/**
 * Whether a received track's negotiation asks for REMB from us: `goog-remb` without
 * `transport-cc` (with transport-cc, Chromium estimates on the sender's side and werift's
 * receiver sends the transport-wide feedback).
 */
export function wantsRemb(transceiver: RTCRtpTransceiver): boolean {
  const feedback = transceiver.codecs[0]?.rtcpFeedback ?? [];
  return (
    feedback.some((f) => f.type === "goog-remb") && !feedback.some((f) => f.type === "transport-cc")
  );
}
