import { sanitizeFileName } from "@/lib/files/names";

/** Where a file sits in an export, relative to the archive's folder. */
export function exportedFilePath(file: { id: string; name: string }): string {
  return `files/${file.id}/${sanitizeFileName(file.name).slice(0, 80) || "file"}`;
}
