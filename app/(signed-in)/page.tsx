import { HomeView } from "@/components/rooms/HomeView";
import { requirePageUser } from "@/lib/auth/session";

export const dynamic = "force-dynamic";

/** Home: your rooms, from the signed-in layout's live list. */
export default async function HomePage() {
  await requirePageUser("/");
  return <HomeView />;
}
