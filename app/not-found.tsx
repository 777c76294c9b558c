import Link from "next/link";

export default function NotFound() {
  return (
    <main style={{ maxWidth: 520, margin: "15vh auto", padding: "0 16px", textAlign: "center" }}>
      <h1>Page not found</h1>
      <p className="muted">Nothing lives at this address.</p>
      <Link className="btn btn-primary" href="/">
        Go to your rooms
      </Link>
    </main>
  );
}
