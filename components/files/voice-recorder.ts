/**
 * Records a voice note from the microphone into a File, framework-free. Opus in WebM or
 * Ogg where the browser can, otherwise what it offers (MP4 on Safari).
 */
const PREFERRED = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/mp4"];

export class VoiceRecorder {
  private chunks: Blob[] = [];
  private constructor(
    private readonly stream: MediaStream,
    private readonly recorder: MediaRecorder,
  ) {
    recorder.ondataavailable = (e) => {
      if (e.data.size) this.chunks.push(e.data);
    };
  }

  /** Asks for the microphone and starts recording; throws a readable Error if refused. */
  static async start(): Promise<VoiceRecorder> {
    if (typeof MediaRecorder === "undefined" || !navigator.mediaDevices?.getUserMedia) {
      throw new Error("This browser cannot record audio");
    }
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (err) {
      const name = (err as DOMException).name;
      throw new Error(
        name === "NotAllowedError"
          ? "Microphone access was refused"
          : name === "NotFoundError"
            ? "No microphone was found"
            : "The microphone could not be started",
      );
    }
    const mimeType = PREFERRED.find((t) => MediaRecorder.isTypeSupported(t));
    const recorder = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
    const voice = new VoiceRecorder(stream, recorder);
    recorder.start(1000);
    return voice;
  }

  /** Stops and returns the recording as a file named for when it was made. */
  stop(): Promise<File> {
    return new Promise((resolve) => {
      this.recorder.onstop = () => {
        this.release();
        const type = this.recorder.mimeType || "audio/webm";
        const extension = type.includes("ogg") ? "ogg" : type.includes("mp4") ? "m4a" : "webm";
        const stamp = new Date().toISOString().slice(0, 16).replace("T", " ").replace(":", "-");
        resolve(new File(this.chunks, `Voice note ${stamp}.${extension}`, { type }));
      };
      this.recorder.stop();
    });
  }

  /** Stops without keeping anything. */
  discard(): void {
    this.recorder.onstop = () => this.release();
    if (this.recorder.state !== "inactive") this.recorder.stop();
    else this.release();
  }

  private release(): void {
    for (const track of this.stream.getTracks()) track.stop();
  }
}
