import type { Metadata } from "next";
import Link from "next/link";

export const metadata: Metadata = { title: "Setting up HTTPS" };

/**
 * Where the room page's "not on HTTPS" notice leads (issue 11): the short version of
 * README.md "HTTPS", for whoever runs this Parley. Readable signed out.
 */
export default function HttpsHelp() {
  return (
    <main style={{ maxWidth: 720, margin: "6vh auto", padding: "0 16px", lineHeight: 1.55 }}>
      <h1>Setting up HTTPS</h1>
      <p>
        Browsers give a page the camera, the microphone, notifications and passkeys only when it is
        served over HTTPS (or from <code>localhost</code> on the same machine). Opened as{" "}
        <code>http://</code> from another device, Parley can chat but cannot call. Whoever runs this
        server can fix that in one of these ways:
      </p>
      <h2>A server with a domain name</h2>
      <p>
        Point the name at the server, open ports 80 and 443, and start Parley with its public
        address. It obtains a certificate from Let&apos;s Encrypt, renews it by itself and redirects
        plain HTTP:
      </p>
      <pre>
        <code>PUBLIC_URL=https://chat.example.org npm start</code>
      </pre>
      <h2>A certificate you already have</h2>
      <pre>
        <code>TLS_CERT_FILE=/path/fullchain.pem TLS_KEY_FILE=/path/privkey.pem npm start</code>
      </pre>
      <h2>Behind a reverse proxy that does HTTPS</h2>
      <pre>
        <code>PUBLIC_URL=https://chat.example.org TRUSTED_PROXIES=127.0.0.1 npm start</code>
      </pre>
      <h2>On a home or office network without a domain</h2>
      <p>
        Parley makes its own certificate authority and a certificate for this machine. Each device
        trusts that authority once (download it from{" "}
        <code>http://&lt;this machine&gt;/parley-ca.crt</code>); then calls and notifications work.
        Passkeys also need a name, not an IP address.
      </p>
      <pre>
        <code>TLS_MODE=self-signed npm start</code>
      </pre>
      <p className="muted">
        The full guide, including ports below 1024 without root, is in the README&apos;s HTTPS
        section. <Link href="/">Back to your rooms</Link>
      </p>
    </main>
  );
}
