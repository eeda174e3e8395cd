const BASE = 'http://next-path.invalid';

/**
 * The `next=` target after login, made safe: a path on this site, never another origin (no open
 * redirect). Anything that is not a plain same-origin path (`//evil.example`, `/\evil.example`,
 * `https://...`, `javascript:`, control characters, a path that normalises to `//...`) gives
 * `fallback`.
 *
 * @example
 * ```ts
 * redirect(safeNextPath(searchParams.next)) // '/account?tab=2', or '/' for anything hostile
 * ```
 */
export function safeNextPath(value: unknown, fallback = '/'): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return fallback;
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return fallback;
  // URL parsing drops tabs and newlines and reads backslashes as slashes: refuse them outright.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return fallback;
  let url: URL;
  try {
    url = new URL(value, BASE);
  } catch {
    return fallback;
  }
  if (url.origin !== BASE) return fallback;
  const path = `${url.pathname}${url.search}${url.hash}`;
  // Dot segments can normalise `/.//evil.example` into a scheme-relative `//evil.example`.
  if (path.startsWith('//') || path.startsWith('/\\')) return fallback;
  return path;
}
