/**
 * Opening the person's own microphone, camera and screen, and saying plainly what went
 * wrong when one cannot be had (the UI shows it as an alert and the call goes on without
 * that device). Browser-only.
 */

/** A device in the person's words, as the alerts name it. */
export type DeviceKind = "microphone" | "camera" | "screen";

export interface MediaProblem {
  device: DeviceKind;
  reason: "refused" | "missing" | "busy" | "failed";
  message: string;
}

/**
 * The height the camera is asked to capture; simulcast derives the smaller layers from it
 * (publisher.ts: cameraLayers). 720p where the machine can encode three layers of it and
 * decode the others; 360p on two cores or fewer, where 720p would leave the call starved
 * for CPU (the encoder would scale down anyway, after seconds of stutter).
 */
export function cameraCaptureHeight(): number {
  return (navigator.hardwareConcurrency ?? 4) >= 4 ? 720 : 360;
}

function cameraConstraints(): MediaTrackConstraints {
  const height = cameraCaptureHeight();
  return {
    width: { ideal: Math.round((height * 16) / 9) },
    height: { ideal: height },
    frameRate: { ideal: 30, max: 30 },
  };
}

const MICROPHONE: MediaTrackConstraints = {
  echoCancellation: true,
  noiseSuppression: true,
  autoGainControl: true,
};

export async function openMicrophone(deviceId?: string): Promise<MediaStreamTrack> {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { ...MICROPHONE, ...exact(deviceId) },
  });
  return stream.getAudioTracks()[0]!;
}

export async function openCamera(deviceId?: string): Promise<MediaStreamTrack> {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { ...cameraConstraints(), ...exact(deviceId) },
  });
  const track = stream.getVideoTracks()[0]!;
  track.contentHint = "motion";
  return track;
}

export interface OpenedDevices {
  microphone: MediaStreamTrack | null;
  camera: MediaStreamTrack | null;
  problems: MediaProblem[];
}

/**
 * Opens the microphone and camera wanted (a device id, `true` for the default, `false` for
 * none). One request for both, so the browser asks once; if that fails, each is tried
 * alone to learn which one is refused or missing, and the other still works.
 */
export async function openDevices(wanted: {
  microphone: string | boolean;
  camera: string | boolean;
}): Promise<OpenedDevices> {
  const opened: OpenedDevices = { microphone: null, camera: null, problems: [] };
  if (wanted.microphone === false && wanted.camera === false) return opened;
  const idOf = (want: string | boolean) => (typeof want === "string" ? want : undefined);
  if (wanted.microphone !== false && wanted.camera !== false) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: { ...MICROPHONE, ...exact(idOf(wanted.microphone)) },
        video: { ...cameraConstraints(), ...exact(idOf(wanted.camera)) },
      });
      opened.microphone = stream.getAudioTracks()[0] ?? null;
      opened.camera = stream.getVideoTracks()[0] ?? null;
      if (opened.camera) opened.camera.contentHint = "motion";
      return opened;
    } catch {
      // Fall through: find out which one fails.
    }
  }
  const [microphone, camera] = await Promise.allSettled([
    wanted.microphone === false ? Promise.resolve(null) : openMicrophone(idOf(wanted.microphone)),
    wanted.camera === false ? Promise.resolve(null) : openCamera(idOf(wanted.camera)),
  ]);
  if (microphone.status === "fulfilled") opened.microphone = microphone.value;
  else opened.problems.push(mediaProblem("microphone", microphone.reason));
  if (camera.status === "fulfilled") opened.camera = camera.value;
  else opened.problems.push(mediaProblem("camera", camera.reason));
  return opened;
}

function exact(deviceId: string | undefined): MediaTrackConstraints {
  return deviceId ? { deviceId: { exact: deviceId } } : {};
}

/** The screen (and its audio where the browser offers it). */
export async function openScreen(): Promise<{
  video: MediaStreamTrack;
  audio: MediaStreamTrack | null;
}> {
  const stream = await navigator.mediaDevices.getDisplayMedia({
    video: { frameRate: { ideal: 15, max: 30 } },
    audio: true,
  });
  const video = stream.getVideoTracks()[0]!;
  // Text stays sharp: the encoder keeps resolution and drops frames under pressure.
  video.contentHint = "detail";
  return { video, audio: stream.getAudioTracks()[0] ?? null };
}

/** Turns a getUserMedia/getDisplayMedia failure into what the person is told. */
export function mediaProblem(device: DeviceKind, err: unknown): MediaProblem {
  const name = err instanceof DOMException || err instanceof Error ? err.name : "";
  const what = device === "screen" ? "screen sharing" : `your ${device}`;
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
      return {
        device,
        reason: "refused",
        message:
          device === "screen"
            ? "Screen sharing was not allowed."
            : `Permission to use your ${device} was refused. Allow it in the browser's site settings.`,
      };
    case "NotFoundError":
    case "OverconstrainedError":
      return { device, reason: "missing", message: `No ${device} was found.` };
    case "NotReadableError":
    case "AbortError":
      return {
        device,
        reason: "busy",
        message: `Can't start ${what}: it may be in use by another app.`,
      };
    default:
      return { device, reason: "failed", message: `Can't start ${what}.` };
  }
}

export interface DeviceList {
  microphones: MediaDeviceInfo[];
  cameras: MediaDeviceInfo[];
  /** Empty where the browser cannot choose the output (no `setSinkId`). */
  speakers: MediaDeviceInfo[];
}

export function canChooseSpeaker(): boolean {
  return typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;
}

export async function listDevices(): Promise<DeviceList> {
  const all = await navigator.mediaDevices.enumerateDevices();
  // Before any permission, browsers list devices without ids or labels: nothing to pick yet.
  const usable = all.filter((d) => d.deviceId !== "");
  return {
    microphones: usable.filter((d) => d.kind === "audioinput"),
    cameras: usable.filter((d) => d.kind === "videoinput"),
    speakers: canChooseSpeaker() ? usable.filter((d) => d.kind === "audiooutput") : [],
  };
}
