import { describe, expect, it } from "vitest";
import { cameraLayers } from "./publisher";

describe("cameraLayers", () => {
  it("sends three layers of a 720p capture, the top at full size", () => {
    expect(cameraLayers(720)).toEqual([
      { rid: "low", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
      { rid: "medium", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
      { rid: "high", scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
    ]);
  });

  it("sends two layers of a 360p capture, so its full size is one of them", () => {
    expect(cameraLayers(360)).toEqual([
      { rid: "low", scaleResolutionDownBy: 2, maxBitrate: 150_000 },
      { rid: "medium", scaleResolutionDownBy: 1, maxBitrate: 500_000 },
    ]);
  });

  it("keeps the top layer at full size for captures between the nominal heights", () => {
    const layers = cameraLayers(480);
    expect(layers.map((l) => l.rid)).toEqual(["low", "medium"]);
    expect(layers.at(-1)?.scaleResolutionDownBy).toBe(1);
    expect(layers[0]?.scaleResolutionDownBy).toBeCloseTo(480 / 180);
  });

  it("sends one full-size layer of a capture below 180p", () => {
    expect(cameraLayers(120)).toEqual([
      { rid: "low", scaleResolutionDownBy: 1, maxBitrate: 150_000 },
    ]);
  });
});
