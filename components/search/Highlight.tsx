import { Fragment } from "react";
import type { Highlighted } from "@/lib/search/schemas";

/** Text with the parts a search matched in <mark>; every part rendered as text. */
export function Highlight({ parts }: { parts: Highlighted }) {
  return (
    <>
      {parts.map((part, i) =>
        part.mark ? <mark key={i}>{part.text}</mark> : <Fragment key={i}>{part.text}</Fragment>,
      )}
    </>
  );
}
