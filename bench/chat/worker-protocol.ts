/**
 * IPC between `bench/chat.ts` and its client workers (`client-worker.ts`). Times are
 * absolute milliseconds (`performance.timeOrigin + performance.now()`), comparable across
 * the processes of one machine.
 */

export interface BotSpec {
  /** `Cookie` header for the handshake (Parley); empty for the bare server. */
  cookie: string;
  roomId: string;
}

export interface ConnectCommand {
  type: "connect";
  url: string;
  bots: BotSpec[];
  concurrency: number;
  timeoutMs: number;
  /** Catch up with `room.sync` after a reconnect (Parley); the bare server keeps no history. */
  catchUp: boolean;
}

export interface RunCommand {
  type: "run";
  step: number;
  /** Messages per second this worker sends (its share of the total). */
  rate: number;
  startAt: number;
  /** Latency samples and throughput count from here… */
  warmupEnd: number;
  /** …to here, when sending stops. */
  windowEnd: number;
  /** Deliveries and acks still missing here are late: the server fell behind… */
  drainEnd: number;
  /** …and those still missing here are lost. The wait ends early once nothing is missing. */
  graceEnd: number;
  bodyChars: number;
}

export type ParentMessage =
  ConnectCommand | RunCommand | { type: "status" } | { type: "verify" } | { type: "close" };

export interface ConnectResult {
  type: "connected";
  connected: number;
  subscribed: number;
  failed: number;
  errors: string[];
  seconds: number;
}

export interface StepResult {
  type: "result";
  step: number;
  sent: number;
  sentInWindow: number;
  acksOk: number;
  acksOkInWindow: number;
  acksFailed: number;
  /** Sends with no ack by the end of the drain, and by the end of the grace period. */
  acksMissingAtDrain: number;
  acksMissing: number;
  ackErrors: Record<string, number>;
  expectedDeliveries: number;
  receivedDeliveries: number;
  /** Deliveries that arrived between warmupEnd and windowEnd (any message). */
  deliveriesInWindow: number;
  duplicateDeliveries: number;
  /** Messages that some subscriber had not received by the end of the drain… */
  messagesUndeliveredAtDrain: number;
  /** …and by the end of the grace period: lost. */
  messagesLost: number;
  /** Send → delivery, ms, for messages sent in the window. */
  fanoutMs: Float64Array;
  /** Send → ack, ms, for messages sent in the window. */
  ackMs: Float64Array;
  /** Since the bots connected (not per step), by reason; each is followed by a reconnect. */
  disconnects: Record<string, number>;
  reconnects: number;
  /** Events received through `room.sync` after reconnecting, rather than live. */
  catchUpEvents: number;
  /** Longest the scheduler tick ran late: the worker's event loop was this busy. */
  maxTickLagMs: number;
}

/** Bots connected and subscribed right now (reconnecting ones are not). */
export interface StatusResult {
  type: "status";
  connected: number;
  total: number;
}

/** After the last step: messages of each step some subscriber still lacks after catching up. */
export interface VerifyResult {
  type: "verified";
  missingByStep: Record<number, number>;
  /** Bots that were not connected, or whose catch-up failed: their rooms are not fully checked. */
  unverifiedBots: number;
}

export type WorkerMessage =
  ConnectResult | VerifyResult | StepResult | StatusResult | { type: "error"; message: string };
