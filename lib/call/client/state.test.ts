import { describe, expect, it } from "vitest";
import type { TrackInfo } from "@/sfu/protocol";
import { applyEvent, attachReceived, participantsFromJoin, trackOf } from "./state";

/** The call's snapshot reducers: SFU events applied in any order converge on what is there. */
describe("call state", () => {
  const ada = { peerId: "p-ada", userId: "u-ada", displayName: "Ada" };
  const grace = { peerId: "p-grace", userId: "u-grace", displayName: "Grace" };
  const camera: TrackInfo = {
    trackId: "t-cam",
    peerId: "p-ada",
    source: "camera",
    kind: "video",
    muted: false,
    layers: ["low", "medium", "high"],
  };
  const mic: TrackInfo = {
    trackId: "t-mic",
    peerId: "p-ada",
    source: "mic",
    kind: "audio",
    muted: false,
    layers: [],
  };
  // MediaStreamTrack does not exist in Node; the reducers only pass tracks through.
  const videoTrack = { id: "video" } as MediaStreamTrack;

  it("builds participants from join, with their tracks and any already received", () => {
    const participants = participantsFromJoin(
      [ada, grace],
      [camera, mic],
      new Map([["t-cam", videoTrack]]),
    );
    expect(participants.map((p) => p.displayName)).toEqual(["Ada", "Grace"]);
    expect(trackOf(participants[0]!, "camera")?.track).toBe(videoTrack);
    expect(trackOf(participants[0]!, "mic")?.track).toBeNull();
    expect(participants[1]!.tracks).toEqual([]);
  });

  it("applies joins, publications, mutes, unpublications and leaves", () => {
    const none = new Map<string, MediaStreamTrack>();
    let state = applyEvent([], { name: "participantJoined", payload: { participant: ada } }, none);
    state = applyEvent(state, { name: "participantJoined", payload: { participant: ada } }, none);
    expect(state).toHaveLength(1);
    state = applyEvent(state, { name: "trackPublished", payload: { track: camera } }, none);
    state = applyEvent(state, { name: "trackPublished", payload: { track: mic } }, none);
    state = applyEvent(
      state,
      { name: "trackMuted", payload: { trackId: "t-mic", muted: true } },
      none,
    );
    expect(trackOf(state[0]!, "mic")?.muted).toBe(true);
    state = attachReceived(state, new Map([["t-cam", videoTrack]]));
    expect(trackOf(state[0]!, "camera")?.track).toBe(videoTrack);
    state = applyEvent(state, { name: "trackUnpublished", payload: { trackId: "t-cam" } }, none);
    expect(trackOf(state[0]!, "camera")).toBeUndefined();
    state = applyEvent(state, { name: "participantLeft", payload: { peerId: "p-ada" } }, none);
    expect(state).toEqual([]);
  });

  it("keeps unchanged participants identical, so their tiles do not re-render", () => {
    const state = participantsFromJoin([ada, grace], [camera], new Map());
    const muted = applyEvent(
      state,
      { name: "trackMuted", payload: { trackId: "t-cam", muted: true } },
      new Map(),
    );
    expect(muted[1]).toBe(state[1]);
    expect(muted[0]).not.toBe(state[0]);
    expect(attachReceived(state, new Map())).toBe(state);
  });
});
