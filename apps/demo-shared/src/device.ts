/**
 * A short, human label for a user agent ("Chrome on Linux"), shown in the sessions list. Best
 * effort: the raw user agent is shown next to it anyway.
 *
 * @example
 * ```ts
 * deviceLabel('Mozilla/5.0 (X11; Linux x86_64) ... Chrome/156.0.0.0 Safari/537.36'); // 'Chrome on Linux'
 * ```
 */
export function deviceLabel(userAgent: string | null | undefined): string {
  if (!userAgent) return 'Unknown device';
  const browser = /Edg\//.test(userAgent)
    ? 'Edge'
    : /HeadlessChrome\//.test(userAgent)
      ? 'Headless Chrome'
      : /(Chrome|Chromium)\//.test(userAgent)
        ? 'Chrome'
        : /Firefox\//.test(userAgent)
          ? 'Firefox'
          : /Safari\//.test(userAgent)
            ? 'Safari'
            : /curl\//.test(userAgent)
              ? 'curl'
              : /node|undici/i.test(userAgent)
                ? 'Node.js'
                : null;
  const system = /Android/.test(userAgent)
    ? 'Android'
    : /iPhone|iPad/.test(userAgent)
      ? 'iOS'
      : /Windows/.test(userAgent)
        ? 'Windows'
        : /Mac OS X|Macintosh/.test(userAgent)
          ? 'macOS'
          : /Linux/.test(userAgent)
            ? 'Linux'
            : null;
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? system ?? 'Other client';
}
