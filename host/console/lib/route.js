// URLs of the console: everything after `#`, as `/segment/segment?key=value`, so
// every view (a topic's records at an offset, a group) can be bookmarked and shared
// while the server serves one page.

/** The current route: `path` (decoded segments) and `query` (URLSearchParams). */
export function parse(hash = location.hash) {
  const raw = hash.replace(/^#/, '');
  const [path, query = ''] = raw.split('?', 2);
  let segments;
  try {
    segments = path.split('/').filter((s) => s !== '').map(decodeURIComponent);
  } catch {
    // A bad escape (`#/topics/%E0`): the whole raw path as one segment, which names no
    // view (none has a `/`), so the page says "No such page" instead of throwing.
    segments = [path];
  }
  return { path: segments, query: new URLSearchParams(query) };
}

/** The `#...` link of `segments` with `query` (an object; empty values left out). */
export function href(segments, query = {}) {
  const path = segments.map((s) => encodeURIComponent(String(s))).join('/');
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const q = params.toString();
  return `#/${path}${q ? `?${q}` : ''}`;
}

/** Navigates to `segments` with `query`. */
export function go(segments, query = {}) {
  location.hash = href(segments, query);
}
