/**
 * Sending a datagram on a werift ICE socket without `dgram.Socket#send`'s per-packet
 * address lookup. An unconnected socket's `send` resolves even an IP literal through
 * `dns.lookup` and a `process.nextTick`, which was a fifth of the forwarding path's CPU.
 * The ICE socket cannot be `connect()`ed (it talks to several candidates), so this does
 * what Node's own `doSend` does after the lookup: hand a `SendWrap` to the UDP handle,
 * which tries a synchronous `uv_udp_try_send` first.
 *
 * It leans on Node internals (`process.binding("udp_wrap")`, the socket's state symbol),
 * so every piece is checked once and anything missing falls back to `socket.send`.
 * Documented in docs/sfu.md, "werift notes" and "The fast forwarding path".
 */
import type { Socket } from "node:dgram";
import { isIP } from "node:net";

interface UdpHandle {
  send(
    req: object,
    list: Buffer[],
    count: number,
    port: number,
    address: string,
    hasCallback: boolean,
  ): number;
}

type SendWrapClass = new () => { list?: Buffer[]; address?: string; port?: number };

const SendWrap = loadSendWrap();
const handles = new WeakMap<Socket, UdpHandle | null>();

function loadSendWrap(): SendWrapClass | undefined {
  try {
    const binding = (
      process as unknown as { binding(name: string): { SendWrap?: SendWrapClass } }
    ).binding("udp_wrap");
    return typeof binding.SendWrap === "function" ? binding.SendWrap : undefined;
  } catch {
    return undefined;
  }
}

function handleOf(socket: Socket): UdpHandle | null {
  let handle = handles.get(socket);
  if (handle !== undefined) return handle;
  handle = null;
  const stateSymbol = Object.getOwnPropertySymbols(socket).find(
    (s) => s.description === "state symbol",
  );
  const state = stateSymbol
    ? (socket as unknown as Record<symbol, { handle?: UdpHandle; bindState?: number }>)[stateSymbol]
    : undefined;
  if (SendWrap && state?.handle && typeof state.handle.send === "function") handle = state.handle;
  handles.set(socket, handle);
  return handle;
}

/**
 * Whether `socket` takes the direct path: the `SendWrap` binding loaded and the socket's
 * handle found (sfu/self-check.ts checks it at start; otherwise every send falls back).
 */
export function sendsDirectly(socket: Socket): boolean {
  return SendWrap !== undefined && handleOf(socket) !== null;
}

/** Sends `datagram` to `address:port` (an IP literal) on `socket`. */
export function sendDatagram(
  socket: Socket,
  datagram: Buffer,
  port: number,
  address: string,
): void {
  const handle = handleOf(socket);
  if (handle && SendWrap && isIP(address)) {
    const req = new SendWrap();
    const list = [datagram];
    req.list = list; // keeps the bytes alive until an asynchronous send completes
    req.address = address;
    req.port = port;
    const result = handle.send(req, list, 1, port, address, false);
    if (result >= 0) return; // ≥ 1: sent synchronously; 0: queued
    handles.set(socket, null); // something changed underneath us: use the public API from now on
  }
  socket.send(datagram, port, address);
}

/** Largest datagram {@link sendCopy} sends from its reusable buffer (an SRTP packet fits). */
export const SEND_BUFFER_SIZE = 2048;

/**
 * The forwarding path's send state, reused while sends complete synchronously: a send that
 * the kernel took at once (`uv_udp_try_send`) leaves nothing behind, so the same buffer,
 * request object and list serve the next packet, and forwarding makes no garbage per
 * packet (at 50 subscribers the allocations per packet were a fifth of the SFU's CPU in
 * garbage collection). A send that was queued (the socket's buffer was full) keeps them
 * until it completes, and fresh ones are made.
 */
let sendBuffer = Buffer.allocUnsafeSlow(SEND_BUFFER_SIZE);
/** Views of `sendBuffer` by length (packets of a stream have a handful of sizes). */
let views = new Map<number, Buffer>();
let request: InstanceType<SendWrapClass> | undefined;
let list: Buffer[] = [];
let lastAddress = "";
let lastAddressIsIp = false;
/** Sends queued rather than sent at once (each cost a new buffer), for tests and /stats. */
export const sendCopyStats = { queued: 0 };

function viewOf(length: number): Buffer {
  let view = views.get(length);
  if (!view) {
    view = sendBuffer.subarray(0, length);
    if (views.size < 64) views.set(length, view);
  }
  return view;
}

/**
 * Sends `length` bytes from the start of `source` (the SRTP scratch area) to
 * `address:port`, copying them into the reusable send buffer. `source` may be overwritten
 * as soon as this returns.
 */
export function sendCopy(
  socket: Socket,
  source: Buffer,
  length: number,
  port: number,
  address: string,
): void {
  const handle = handleOf(socket);
  if (address !== lastAddress) {
    lastAddress = address;
    lastAddressIsIp = isIP(address) !== 0;
  }
  if (!handle || !SendWrap || !lastAddressIsIp || length > SEND_BUFFER_SIZE) {
    sendDatagram(socket, Buffer.from(source.subarray(0, length)), port, address);
    return;
  }
  const view = viewOf(length);
  source.copy(view, 0, 0, length);
  request ??= new SendWrap();
  list[0] = view;
  const result = handle.send(request, list, 1, port, address, false);
  if (result >= 1) return; // the kernel has the bytes: everything is free again
  if (result === 0) {
    // Queued: libuv reads the buffer when the socket drains. It keeps these three.
    request.list = list;
    request.address = address;
    request.port = port;
    request = undefined;
    list = [];
    sendBuffer = Buffer.allocUnsafeSlow(SEND_BUFFER_SIZE);
    views = new Map();
    sendCopyStats.queued++;
    return;
  }
  handles.set(socket, null);
  socket.send(Buffer.from(view), port, address);
}
