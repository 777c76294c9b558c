import { HomeView } from "@/components/rooms/HomeView";
import { requirePageUser } from "@/lib/auth/session";
import { listRoomsForUser } from "@/lib/rooms/service";
import { db } from "@/lib/server/runtime";

export const dynamic = "force-dynamic";

export default async function HomePage() {
  const user = await requirePageUser("/");
  const rooms = await listRoomsForUser(db(), user.id);
  return <HomeView user={user} initialRooms={rooms} />;
}
