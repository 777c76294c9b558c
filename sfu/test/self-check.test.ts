import { describe, expect, it } from "vitest";
import * as patches from "../werift-patches";
import {
  checkWeriftPatches,
  describeFailures,
  PROBES,
  probePatches,
  withLoopbackPair,
} from "../self-check";

describe("the start-up check of werift's patches", () => {
  it("finds every patch's target on the pinned werift", async () => {
    expect(await checkWeriftPatches()).toEqual([]);
  });

  it("has a probe for every patch werift-patches.ts exports", () => {
    const patchNames = Object.entries(patches)
      .filter(([name, value]) => typeof value === "function" && name !== "isAcceptableDtls")
      .map(([name]) => name);
    expect(patchNames).toContain("resumeRestartedIce");
    expect(patchNames).toContain("followNominations");
    expect(Object.keys(PROBES)).toEqual(expect.arrayContaining(patchNames));
  });

  it("names the patch and what is missing when an internal has moved", async () => {
    const failures = await withLoopbackPair(({ pc }) => {
      const dtls = pc.dtlsTransports[0] as unknown as {
        iceTransport: { connection: Record<string, unknown> };
        srtp: Record<string, unknown>;
      };
      // As a werift upgrade might: a method renamed, a field moved.
      dtls.iceTransport.connection.checkIncoming = undefined;
      dtls.srtp.localContext = undefined;
      return probePatches({ pc });
    });
    expect(failures).toEqual([
      {
        patch: "followNominations",
        problem: "the ICE agent.checkIncoming is undefined (expected function)",
      },
      {
        patch: "authenticateChecks",
        problem: "the ICE agent.checkIncoming is undefined (expected function)",
      },
      {
        patch: "FastTransport (srtp/fast-transport.ts)",
        problem: "RTCDtlsTransport.srtp.localContext is undefined (expected object)",
      },
    ]);
    expect(describeFailures(failures)).toMatch(
      /werift 0\.25\.2 exactly[\s\S]*- followNominations: the ICE agent\.checkIncoming is undefined/,
    );
  });

  it("reports a probe that throws as that patch's failure", async () => {
    const failures = await withLoopbackPair((connected) =>
      probePatches(connected, {
        broken: () => {
          throw new Error("boom");
        },
      }),
    );
    expect(failures).toEqual([{ patch: "broken", problem: "checking it threw: Error: boom" }]);
  });
});
