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
