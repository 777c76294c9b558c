import { badRequest } from "@/lib/errors";

/**
 * The search box's language (docs/search.md): words, "phrases", -exclusions and `or`, as
 * Postgres' websearch_to_tsquery reads them, plus filters — `in:<room>`, `from:<person>`,
 * `has:file`, `before:<date>`, `after:<date>`. A filter's value may be quoted
 * (`in:"design team"`). Everything that is not a filter is the text, passed on untouched.
 * Pure: the server parses with it, and its errors are what the searcher reads.
 */
export interface ParsedSearch {
  /** The words for websearch_to_tsquery ('' for none). */
  text: string;
  /** `in:` values (room names or links), any of which may match. */
  rooms: string[];
  /** `from:` values (display names, or `me`), any of which may match. */
  from: string[];
  hasFile: boolean;
  /** Messages sent before this day began (the searcher's day). */
  before: CalendarDate | null;
  /** Messages sent after this day ended. */
  after: CalendarDate | null;
}

export interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

type Filter = "in" | "from" | "has" | "before" | "after";

/** At most this many filter values in one search. */
export const MAX_FILTERS = 20;

// A filter at the start of a token: its name, a colon, then a quoted value (the closing
// quote may be missing) or a run of non-space characters.
const FILTER_AT = /(in|from|has|before|after):(?:"([^"]*)"?|([^\s"]\S*))?/iy;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function parseSearch(input: string): ParsedSearch {
  const parsed: ParsedSearch = {
    text: "",
    rooms: [],
    from: [],
    hasFile: false,
    before: null,
    after: null,
  };
  const text: string[] = [];
  let filters = 0;
  let i = 0;
  while (i < input.length) {
    if (/\s/.test(input[i]!)) {
      i += 1;
      continue;
    }
    FILTER_AT.lastIndex = i;
    const filter = FILTER_AT.exec(input);
    if (filter) {
      const name = filter[1]!.toLowerCase() as Filter;
      const value = (filter[2] ?? filter[3] ?? "").trim();
      if (!value) throw badRequest(`${name}: needs a value, as in ${example(name)}`);
      if (++filters > MAX_FILTERS) throw badRequest(`Use at most ${MAX_FILTERS} filters`);
      applyFilter(parsed, name, value);
      i = FILTER_AT.lastIndex;
      continue;
    }
    // A word, or a "phrase" (with a leading - to leave it out): kept whole, quotes and all.
    let end = i;
    const quote = input[i] === '"' ? i : input.startsWith('-"', i) ? i + 1 : -1;
    if (quote >= 0) {
      const close = input.indexOf('"', quote + 1);
      end = close < 0 ? input.length : close + 1;
    } else {
      while (end < input.length && !/\s/.test(input[end]!)) end += 1;
    }
    text.push(input.slice(i, end));
    i = end;
  }
  parsed.text = text.join(" ");
  if (parsed.before && parsed.after && compareDates(parsed.after, parsed.before) >= 0) {
    throw badRequest("Nothing can be both after: and before: those dates; swap them?");
  }
  return parsed;
}

function applyFilter(parsed: ParsedSearch, name: Filter, value: string): void {
  switch (name) {
    case "in":
      parsed.rooms.push(value.replace(/^#/, ""));
      return;
    case "from":
      parsed.from.push(value.replace(/^@/, ""));
      return;
    case "has":
      if (!/^files?$/i.test(value))
        throw badRequest(`has: takes "file" (has:file), not "${value}"`);
      parsed.hasFile = true;
      return;
    case "before":
    case "after": {
      const date = parseDate(value);
      if (!date) throw badRequest(`${name}: takes a date written like 2026-01-31, not "${value}"`);
      const current = parsed[name];
      // Several of one: the narrowest wins.
      const narrower =
        !current ||
        (name === "before" ? compareDates(date, current) < 0 : compareDates(date, current) > 0);
      if (narrower) parsed[name] = date;
      return;
    }
  }
}

function example(name: Filter): string {
  switch (name) {
    case "in":
      return 'in:general or in:"design team"';
    case "from":
      return 'from:ada, from:"Ada Lovelace" or from:me';
    case "has":
      return "has:file";
    case "before":
    case "after":
      return `${name}:2026-01-31`;
  }
}

/** A real calendar date written YYYY-MM-DD, or null. */
export function parseDate(value: string): CalendarDate | null {
  const m = DATE.exec(value);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(year, month - 1, day));
  if (t.getUTCFullYear() !== year || t.getUTCMonth() !== month - 1 || t.getUTCDate() !== day) {
    return null;
  }
  return { year, month, day };
}

function compareDates(a: CalendarDate, b: CalendarDate): number {
  return a.year - b.year || a.month - b.month || a.day - b.day;
}

/** Whether the search has a filter (so it may have no words). */
export function hasFilters(parsed: ParsedSearch): boolean {
  return (
    parsed.rooms.length > 0 ||
    parsed.from.length > 0 ||
    parsed.hasFile ||
    parsed.before !== null ||
    parsed.after !== null
  );
}

/**
 * The instant `date` begins in `timeZone` (an IANA name): local midnight, found from the
 * zone's offset at that moment (checked twice, for a change of offset that night).
 */
export function startOfDay(date: CalendarDate, timeZone: string): Date {
  const midnightUtc = Date.UTC(date.year, date.month - 1, date.day);
  let t = midnightUtc - zoneOffsetMs(midnightUtc, timeZone);
  t = midnightUtc - zoneOffsetMs(t, timeZone);
  return new Date(t);
}

/** The day after `date`. */
export function nextDay(date: CalendarDate): CalendarDate {
  const t = new Date(Date.UTC(date.year, date.month - 1, date.day + 1));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

/** How far `timeZone`'s clocks are ahead of UTC at instant `utcMs`. */
function zoneOffsetMs(utcMs: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  }).formatToParts(new Date(utcMs));
  const get = (type: Intl.DateTimeFormatPartTypes) =>
    Number(parts.find((p) => p.type === type)?.value ?? 0);
  const local = Date.UTC(
    get("year"),
    get("month") - 1,
    get("day"),
    get("hour"),
    get("minute"),
    get("second"),
  );
  return local - Math.floor(utcMs / 1000) * 1000;
}

/** Whether `timeZone` is a time zone this runtime knows. */
export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
    return true;
  } catch {
    return false;
  }
}
