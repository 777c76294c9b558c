"use client";

import { useEffect, useState } from "react";

type Theme = "system" | "light" | "dark";
const NEXT: Record<Theme, Theme> = { system: "dark", dark: "light", light: "system" };
const LABEL: Record<Theme, string> = {
  system: "System theme",
  dark: "Dark theme",
  light: "Light theme",
};

/** Cycles system → dark → light; remembered in localStorage. */
export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>("system");

  useEffect(() => {
    const saved = localStorage.getItem("parley-theme");
    // Reads a browser-only setting once after mount; nothing to subscribe to.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    if (saved === "light" || saved === "dark") setTheme(saved);
  }, []);

  const choose = (next: Theme) => {
    setTheme(next);
    if (next === "system") {
      localStorage.removeItem("parley-theme");
      delete document.documentElement.dataset.theme;
    } else {
      localStorage.setItem("parley-theme", next);
      document.documentElement.dataset.theme = next;
    }
  };

  return (
    <button
      type="button"
      className="btn btn-ghost btn-small"
      onClick={() => choose(NEXT[theme])}
      title="Change theme"
    >
      {LABEL[theme]}
    </button>
  );
}
