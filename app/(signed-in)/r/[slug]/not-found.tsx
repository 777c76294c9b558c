import Link from "next/link";

export default function RoomNotFound() {
  return (
    <main style={{ maxWidth: 520, margin: "15vh auto", padding: "0 16px", textAlign: "center" }}>
      <h1>Room not found</h1>
      <p className="muted">
        There is no room at this link, or you need an invitation to join it. Check the link with
        whoever sent it.
      </p>
      <Link className="btn btn-primary" href="/">
        Go to your rooms
      </Link>
    </main>
  );
}
