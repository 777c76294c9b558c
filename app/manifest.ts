import type { MetadataRoute } from "next";

/**
 * The web app manifest (/manifest.webmanifest; Next links it from every page): what a
 * browser needs to install Parley as an app — standalone, with its icons and colours.
 */
export default function manifest(): MetadataRoute.Manifest {
  return {
    id: "/",
    name: "Parley",
    short_name: "Parley",
    description: "Rooms for chat, calls and files — self-hosted.",
    start_url: "/",
    scope: "/",
    display: "standalone",
    // The light theme's; a dark system gets the page's own theme-color (app/layout.tsx).
    background_color: "#f6f7f9",
    theme_color: "#3b5bdb",
    icons: [
      { src: "/icons/icon-192.png", sizes: "192x192", type: "image/png", purpose: "any" },
      { src: "/icons/icon-512.png", sizes: "512x512", type: "image/png", purpose: "any" },
      { src: "/icons/maskable-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
      { src: "/icons/icon.svg", sizes: "any", type: "image/svg+xml", purpose: "any" },
    ],
  };
}
