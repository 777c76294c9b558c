import "server-only";
import { hasRuntime, provide, runtime } from "@/lib/server/runtime";

/**
 * What other features do after a chat change commits (lib/files removes a deleted
 * message's files). Kept on the process runtime, not in module state, so a hook registered
 * by server.ts is seen by code that Next bundled too.
 */
export interface MessageDeleted {
  messageId: string;
  roomId: string;
}
export type MessageDeletedHook = (event: MessageDeleted) => Promise<void>;

const fallback: MessageDeletedHook[] = [];

function hooks(): MessageDeletedHook[] {
  if (!hasRuntime()) return fallback;
  let list = runtime().services.messageDeletedHooks;
  if (!list) provide("messageDeletedHooks", (list = []));
  return list;
}

export function onMessageDeleted(fn: MessageDeletedHook): () => void {
  const list = hooks();
  list.push(fn);
  return () => {
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
  };
}

/** Runs every hook; a failing hook is logged and does not undo the deletion. */
export async function runMessageDeletedHooks(event: MessageDeleted): Promise<void> {
  for (const hook of hooks()) {
    try {
      await hook(event);
    } catch (err) {
      console.error(`[chat] a message-deleted hook failed: ${String(err)}`);
    }
  }
}
