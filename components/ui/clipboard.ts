/**
 * Copies `text` (a link) to the clipboard. Where the browser refuses (an insecure origin,
 * a denied permission), shows it in a prompt to copy by hand. Answers whether it was copied.
 */
export async function copyText(text: string, promptLabel: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    window.prompt(promptLabel, text);
    return false;
  }
}
