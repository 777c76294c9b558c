import "server-only";
import type { SessionUser } from "@/lib/auth/schemas";
import { notFound } from "@/lib/errors";
import { accessRoomBySlug } from "@/lib/rooms/access";
import { db, service } from "@/lib/server/runtime";
import type { CallGrant } from "@/sfu/token";
import type { IceServer } from "./ice-servers";
import type { SfuNode } from "./placement";

/** The calls feature's service, registered by lib/call/node.ts for route handlers. */
export interface CallsService {
  placeRoom(roomId: string): Promise<SfuNode>;
  mint(grant: CallGrant): Promise<string>;
  iceServers(userId: string): IceServer[];
  /** CALL_ICE_TRANSPORT_POLICY: `relay` makes browsers send media through TURN only. */
  iceTransportPolicy: "all" | "relay";
}

/** What a member needs to join a room's call. */
export interface CallTicket {
  /** Single-use, expires within 60 s: fetch one right before connecting. */
  token: string;
  roomId: string;
  /** Socket.IO path on this origin that reaches the room's SFU node. */
  signalingPath: string;
  iceServers: IceServer[];
  /** The browser's RTCConfiguration.iceTransportPolicy for both media connections. */
  iceTransportPolicy: "all" | "relay";
}

/** The app-origin Socket.IO path that the web node proxies to one SFU node. */
export function signalingPathFor(nodeId: string): string {
  return `/sfu/${nodeId}/socket.io/`;
}

/** Mints a call token for a member of the room; others get not_found (existence is not leaked). */
export async function doIssueCallTicket(user: SessionUser, slug: string): Promise<CallTicket> {
  const access = await accessRoomBySlug(db(), slug, user.id);
  if (!access) throw notFound("There is no such room");
  const calls = service("calls");
  // Without a node this throws "unavailable" (placement.ts): route() answers 503.
  const node = await calls.placeRoom(access.room.id);
  const token = await calls.mint({
    roomId: access.room.id,
    userId: user.id,
    displayName: user.displayName,
    mayPublish: true,
  });
  return {
    token,
    roomId: access.room.id,
    signalingPath: signalingPathFor(node.id),
    iceServers: calls.iceServers(user.id),
    iceTransportPolicy: calls.iceTransportPolicy,
  };
}
